"""The value types the pure core decides with: what a host reports, what the state
recorded, what a VM's identity is. Plain frozen dataclasses and enums; this module imports
nothing with effects (no libvirt, no paramiko, no subprocess), so every pure module can
depend on it and tests can build any situation from values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hostcaps import HostPlatform
from ..hostfile.imageformat import ImageInfo
from ..virt.power import PowerState
from .devices import DataDisk, Nic
from .domain_xml import DomainConfig, LiveDomain
from .spec import VmSpec

__all__ = [
    "AttachedDisk",
    "Identity",
    "NicSource",
    "Observed",
    "Recorded",
    "ResolvedBase",
]


@dataclass(frozen=True)
class NicSource:
    """What the host has for one NIC's source: the bridge interface or libvirt network
    exists (``present``: for a NIC on Open vSwitch, an OVS bridge), and, for a network, runs
    (``active``)."""

    nic: Nic
    present: bool
    active: bool = True
    linux_bridge: bool = False
    """The source is a Linux bridge (what a NIC on Open vSwitch cannot use)."""


@dataclass(frozen=True)
class ResolvedBase:
    """The base disk as found on the host. ``format`` is None while an artifact is not yet
    materialised there (preview of a new artifact)."""

    path: str
    format: str | None
    virtual_size: int | None
    artifact_id: str | None = None
    stamp: str | None = None
    """Size and mtime of the base file (see ImageInfo.stamp): a base replaced in place
    under the same path and format is told apart by it."""

    @classmethod
    def from_image(cls, info: ImageInfo, artifact_id: str | None = None) -> ResolvedBase:
        return cls(info.path, info.format, info.virtual_size, artifact_id, info.stamp)


@dataclass(frozen=True)
class Observed:
    """What the host reports for one VM (axes 1-4), read without changing anything.

    ``domain`` is the persistent definition (what the next boot uses; drift is judged on
    it); ``running`` the definition an active domain runs with now."""

    domain: LiveDomain | None
    power: PowerState | None
    overlay: ImageInfo | None
    seed_present: bool
    running: DomainConfig | None = None
    platform: HostPlatform | None = None
    """What the host offers this VM (its arch, firmware, TPM, CPU modes); None where no
    host was asked (unit tests build Observed from values)."""
    nvram_present: bool = False
    """A file exists at the VM's NVRAM path (``<images_dir>/<vm_name>@VARS.fd``); looked at
    for a plan only (a diff's or refresh's look leaves it False: neither judges it)."""
    autostart: bool | None = None
    """libvirt's autostart flag of the domain; None where no domain was asked."""

    @property
    def observed_state(self) -> str:
        """The run state as reported to the user: ``absent`` when no domain is defined."""
        return "absent" if self.power is None else self.power.value


@dataclass(frozen=True)
class Identity:
    """What must never change across redefines: the domain UUID and the NICs' MACs.

    ``mac_address`` is the first NIC's MAC; a VM without NICs keeps the one generated for
    it, and gives it to the first NIC added. ``macs``: one per NIC, in order."""

    uuid: str
    mac_address: str
    macs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recorded:
    """The previous outputs of a VM, as the engine hands them to Diff, Update and Delete."""

    spec: VmSpec
    base_path: str | None
    base_format: str | None
    artifact_id: str | None
    identity: Identity | None
    base_stamp: str | None = None
    overlay_path: str | None = None
    seed_iso_path: str | None = None
    console_log_path: str | None = None
    mac_addresses: tuple[str, ...] = ()
    pending_changes: tuple[str, ...] = ()
    """The inputs the running guest was left to get at its next power cycle."""

    @property
    def uuid(self) -> str | None:
        return self.identity.uuid if self.identity is not None else None


@dataclass(frozen=True)
class AttachedDisk:
    """What the host holds for one of a VM's data disks, read before attaching it."""

    disk: DataDisk
    path: str | None
    """The file on the host (a pool volume resolved); None: no such volume."""
    present: bool
    image: ImageInfo | None = None
    """The qcow2 header's facts (None: not a qcow2 file, or a header we cannot read)."""
    writers: tuple[str, ...] = ()
    """Other domains that may write the file."""
    readers: tuple[str, ...] = ()
    """Other domains that only read it (a CD-ROM, a readonly disk, a backing chain)."""
    probed: str | None = None
    """The format its first bytes show (``qcow2``, ``raw``, a foreign one); None: not read."""
    unreadable: str | None = None
    """Why its bytes were not read: it is no regular file nor block device (a FIFO...)."""
    owner_claim: str | None = None
    """The claim of the resource whose file it is, when that is no VigoDisk (a
    VigoBaseImage's base): a guest must never write it."""
