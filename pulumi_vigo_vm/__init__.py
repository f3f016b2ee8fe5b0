"""pulumi_vigo_vm: libvirt KVM virtual machines as Pulumi resources, converged idempotently.

``VigoVm(...)`` declares one VM (a libvirt domain, a qcow2 overlay over a shared base
disk, data disks, NICs, a NoCloud cloud-init seed, a run state); ``VigoDisk`` a data disk
that outlives its VM's replace; ``VigoBaseImage`` a verified base image from a URL. Their
dynamic providers make the hypervisor match them, locally or over ``qemu+ssh://``.
"""

from .baseimage import VigoBaseImage, VigoBaseImageArgs
from .disk import VigoDisk, VigoDiskArgs
from .errors import (
    CommandError,
    CuratorError,
    HostError,
    HostUnreachableError,
    ImageError,
    InputError,
    InUseError,
    LibvirtCallError,
    NotOwnedError,
    VigoError,
)
from .guard import host_is_libvirt
from .resource import VigoVm, VigoVmArgs

__all__ = [
    "CommandError",
    "CuratorError",
    "HostError",
    "HostUnreachableError",
    "ImageError",
    "InUseError",
    "InputError",
    "LibvirtCallError",
    "NotOwnedError",
    "VigoBaseImage",
    "VigoBaseImageArgs",
    "VigoDisk",
    "VigoDiskArgs",
    "VigoError",
    "VigoVm",
    "VigoVmArgs",
    "host_is_libvirt",
]
