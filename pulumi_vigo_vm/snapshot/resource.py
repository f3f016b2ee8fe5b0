"""VigoSnapshot: an internal snapshot of a VM's disks (and its memory state when it runs),
taken before a risky change; reverted by the operator with ``virsh snapshot-revert``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from ..common.typetokens import MODULE
from ..dynamic.claims import claim_for
from ..dynamic.pickling import pristine_pickler
from .provider import SnapshotProvider
from .spec import OUTPUT_NAMES, TYPE_TOKEN

__all__ = ["VigoSnapshot", "VigoSnapshotArgs"]


@dataclass
class VigoSnapshotArgs:
    """The inputs of a VigoSnapshot. Pass ``vm_name=vm.vm_name`` (an Output): the snapshot
    then depends on the VM, so the engine takes it after the VM exists and deletes it before
    the VM's destroy or replace."""

    vm_name: Input[str]
    uri: Input[str] | None = None
    snapshot_name: Input[str] | None = None
    description: Input[str] | None = None


class VigoSnapshot(Resource, module=MODULE, name="VigoSnapshot"):
    """An internal qcow2 snapshot of every writable disk of VM ``vm_name`` (with its memory
    state when the VM runs; offline when it is stopped), named ``snapshot_name`` (default:
    the resource name). Our claim ends its description: only such a snapshot is deleted.

    Type token ``pulumi-python:dynamic/vigo:VigoSnapshot``. See docs/snapshots.md.
    """

    vm_name: Output[str]
    uri: Output[str]
    snapshot_name: Output[str]
    description: Output[str]
    claim: Output[str]
    """The owner named in the snapshot's description: this resource's URN (set here)."""
    created_at: Output[str]
    """When libvirt took it, ISO 8601 in UTC."""
    state: Output[str]
    """The VM's state when it was taken (``running``, ``paused``, ``shutoff``)."""
    disks: Output[list[str]]
    """The disk files whose internal snapshot it holds."""

    def __init__(
        self,
        resource_name: str,
        args: VigoSnapshotArgs | None = None,
        opts: ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a snapshot. Give either ``args`` or the same fields as keyword arguments."""
        props: dict[str, Any] = (
            {f.name: getattr(args, f.name) for f in fields(args)} if args is not None else {}
        )
        unknown = set(kwargs) - set(VigoSnapshotArgs.__dataclass_fields__)
        if unknown:
            raise TypeError(f"VigoSnapshot got unexpected arguments: {', '.join(sorted(unknown))}")
        props.update(kwargs)
        if props.get("snapshot_name") is None:
            props["snapshot_name"] = resource_name
        props.update({name: None for name in OUTPUT_NAMES})
        parent = opts.parent if opts is not None else None
        props["claim"] = claim_for(TYPE_TOKEN, resource_name, parent)
        with pristine_pickler():  # pulumi#17803: see dynamic/pickling
            super().__init__(SnapshotProvider(), resource_name, props, opts)
