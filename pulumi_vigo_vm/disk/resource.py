"""VigoDisk: a data disk file on a hypervisor, as a resource of its own, so its data
outlives any replace of the VM that uses it (and takes Pulumi's ``protect`` and
``retain_on_delete``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from ..common.typetokens import MODULE
from ..dynamic.claims import claim_for
from ..dynamic.pickling import pristine_pickler
from .provider import DiskProvider
from .spec import OUTPUT_NAMES, TYPE_TOKEN

__all__ = ["VigoDisk", "VigoDiskArgs"]


@dataclass
class VigoDiskArgs:
    """The inputs of a VigoDisk. ``size_gib`` may also be a numeric string ("50")."""

    name: Input[str]
    size_gib: Input[int | str]
    format: Input[str] | None = None
    uri: Input[str] | None = None
    images_dir: Input[str] | None = None


class VigoDisk(Resource, module=MODULE, name="VigoDisk"):
    """An empty data disk ``<images_dir>/disks/<name>.<format>`` (mode 0600) with a claim
    sidecar naming this resource. Grows in place; never shrinks, moves or changes format;
    its delete is refused while any domain on the host references it.

    Type token ``pulumi-python:dynamic/vigo:VigoDisk``. Pass ``disk.path`` (an Output) to
    a VM's ``data_disks`` so Pulumi deletes the VM before the disk.
    """

    name: Output[str]
    size_gib: Output[int]
    format: Output[str]
    uri: Output[str]
    images_dir: Output[str]
    claim: Output[str]
    """The owner named in the file's sidecar: this resource's URN (set by VigoDisk)."""
    path: Output[str]
    """The disk's file on the hypervisor."""
    virtual_size_bytes: Output[int]
    """Its size as a guest sees it, as last observed."""
    attached_to: Output[list[str]]
    """The domains on the host that reference the file, sorted, as last observed."""

    def __init__(
        self,
        resource_name: str,
        args: VigoDiskArgs | None = None,
        opts: ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a disk. Give either ``args`` or the same fields as keyword arguments."""
        props: dict[str, Any] = (
            {f.name: getattr(args, f.name) for f in fields(args)} if args is not None else {}
        )
        unknown = set(kwargs) - set(VigoDiskArgs.__dataclass_fields__)
        if unknown:
            raise TypeError(f"VigoDisk got unexpected arguments: {', '.join(sorted(unknown))}")
        props.update(kwargs)
        props.update({name: None for name in OUTPUT_NAMES})
        parent = opts.parent if opts is not None else None
        props["claim"] = claim_for(TYPE_TOKEN, resource_name, parent)
        with pristine_pickler():  # pulumi#17803: see _pickling
            super().__init__(DiskProvider(), resource_name, props, opts)
