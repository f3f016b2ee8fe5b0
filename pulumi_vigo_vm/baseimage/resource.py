"""VigoBaseImage: a verified base image on a hypervisor, as a Pulumi resource."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from ..common.typetokens import MODULE
from ..common.typetokens import VIGO_BASE_IMAGE as TYPE_TOKEN
from ..dynamic.claims import claim_for
from ..dynamic.pickling import pristine_pickler
from .provider import BaseImageProvider
from .urls import carries_secret

__all__ = ["TYPE_TOKEN", "VigoBaseImage", "VigoBaseImageArgs"]

_OUTPUT_ONLY = ("format", "virtual_size_bytes", "size_bytes")


@dataclass
class VigoBaseImageArgs:
    """The inputs of a VigoBaseImage (see docs/base-images.md)."""

    source: Input[str]
    sha256: Input[str]
    path: Input[str] | None = None
    owner: Input[str] | None = None
    group: Input[str] | None = None
    mode: Input[str] | None = None
    fetch_on: Input[str] | None = None
    uri: Input[str] | None = None


class VigoBaseImage(Resource, module=MODULE, name="VigoBaseImage"):
    """A base image downloaded from ``source``, verified against ``sha256`` and checked like
    any VigoVm base, placed at ``path`` on the hypervisor with ``owner``/``group``/``mode``.

    Type token ``pulumi-python:dynamic/vigo:VigoBaseImage``. A changed ``sha256`` or
    ``source`` is an update, refused while a domain uses the file (VMs built on it are never
    replaced for it); a changed ``path`` or ``uri`` is a replace, created first. Pass
    ``base.path`` to VigoVm's ``disk_path`` so Pulumi orders them.
    """

    source: Output[str]
    """Secret in state when it has a query or userinfo (a presigned URL's signature)."""
    sha256: Output[str]
    path: Output[str]
    """Where the image is on the hypervisor: pass it to ``VigoVm(disk_path=...)``."""
    owner: Output[str]
    group: Output[str]
    mode: Output[str]
    fetch_on: Output[str]
    uri: Output[str]
    claim: Output[str]
    """The owner named in the file's sidecar ``<path>.claim``: this resource's URN."""
    format: Output[str]
    """``qcow2`` or ``raw``, told from the file's magic (never by qemu-img's probing)."""
    virtual_size_bytes: Output[int]
    size_bytes: Output[int]

    def __init__(
        self,
        resource_name: str,
        args: VigoBaseImageArgs | None = None,
        opts: ResourceOptions | None = None,
        *,
        source: Input[str] | None = None,
        sha256: Input[str] | None = None,
        path: Input[str] | None = None,
        owner: Input[str] | None = None,
        group: Input[str] | None = None,
        mode: Input[str] | None = None,
        fetch_on: Input[str] | None = None,
        uri: Input[str] | None = None,
    ) -> None:
        """Declare a base image: give ``args`` or the same fields as keyword arguments."""
        given = {
            "source": source,
            "sha256": sha256,
            "path": path,
            "owner": owner,
            "group": group,
            "mode": mode,
            "fetch_on": fetch_on,
            "uri": uri,
        }
        # Every input is a key, None when omitted: the SDK makes an attribute of each key.
        props: dict[str, Any] = dict(given)
        if args is not None:  # shallow on purpose: dataclasses.asdict deep-copies Outputs
            props.update({f.name: getattr(args, f.name) for f in fields(args)})
            props.update({key: value for key, value in given.items() if value is not None})
        props["source"] = _secret_when_it_can_hold_one(props["source"])
        props.update({name: None for name in _OUTPUT_ONLY})
        parent = opts.parent if opts is not None else None
        props["claim"] = claim_for(TYPE_TOKEN, resource_name, parent)
        with pristine_pickler():  # pulumi#17803: else a large program raises RecursionError
            super().__init__(BaseImageProvider(), resource_name, props, opts)


def _secret_when_it_can_hold_one(source: Input[str] | None) -> Input[str] | None:
    """``source``, made secret when it has a part that can hold a credential (its query:
    presigned URLs), so that state keeps it encrypted; a plain URL stays readable."""
    if source is None:
        return None
    return Output.from_input(source).apply(
        lambda url: Output.secret(url) if isinstance(url, str) and carries_secret(url) else url
    )
