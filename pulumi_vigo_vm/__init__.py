"""pulumi_vigo_vm: libvirt KVM virtual machines as Pulumi resources, converged idempotently.

``VigoVm(...)`` declares one VM (a libvirt domain, a qcow2 overlay over a shared base
disk, data disks, NICs, a NoCloud cloud-init seed, a run state); ``VigoDisk`` a data disk
that outlives its VM's replace; ``VigoBaseImage`` a verified base image from a URL;
``VigoSnapshot`` an internal snapshot of a VM's disks. Their dynamic providers make the
hypervisor match them, locally or over ``qemu+ssh://``.

The public names load lazily (PEP 562): ``import pulumi_vigo_vm.policies`` (the policy
pack) or a pure module loads no libvirt, paramiko, pycdlib or requests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .baseimage.resource import (
        VigoBaseImage as VigoBaseImage,
        VigoBaseImageArgs as VigoBaseImageArgs,
    )
    from .disk.resource import VigoDisk as VigoDisk, VigoDiskArgs as VigoDiskArgs
    from .errors import (
        CommandError as CommandError,
        CuratorError as CuratorError,
        HostError as HostError,
        HostUnreachableError as HostUnreachableError,
        ImageError as ImageError,
        InputError as InputError,
        InUseError as InUseError,
        LibvirtCallError as LibvirtCallError,
        MoveError as MoveError,
        NotOwnedError as NotOwnedError,
        SnapshotError as SnapshotError,
        VigoError as VigoError,
    )
    from .guard import host_is_libvirt as host_is_libvirt
    from .snapshot.resource import (
        VigoSnapshot as VigoSnapshot,
        VigoSnapshotArgs as VigoSnapshotArgs,
    )
    from .vm.resource import VigoVm as VigoVm, VigoVmArgs as VigoVmArgs

_HOMES = {
    "VigoBaseImage": ".baseimage.resource",
    "VigoBaseImageArgs": ".baseimage.resource",
    "VigoDisk": ".disk.resource",
    "VigoDiskArgs": ".disk.resource",
    "VigoSnapshot": ".snapshot.resource",
    "VigoSnapshotArgs": ".snapshot.resource",
    "VigoVm": ".vm.resource",
    "VigoVmArgs": ".vm.resource",
    "host_is_libvirt": ".guard",
    **dict.fromkeys(
        (
            "CommandError",
            "CuratorError",
            "HostError",
            "HostUnreachableError",
            "ImageError",
            "InUseError",
            "InputError",
            "LibvirtCallError",
            "MoveError",
            "NotOwnedError",
            "SnapshotError",
            "VigoError",
        ),
        ".errors",
    ),
}
"""Each public name and the module that defines it."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
