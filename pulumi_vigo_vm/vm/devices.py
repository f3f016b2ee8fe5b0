"""A VM's lists of devices: its data disks and its NICs, as inputs and as decisions.

``data_disks`` and ``nics`` arrive as lists of mappings; :func:`data_disks` and :func:`nics`
turn them into tuples of frozen values (or ``ValueError`` naming the entry and key), and
:func:`assign_macs` decides each NIC's MAC so that no MAC ever changes under a guest. Pure:
no I/O.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ..common.numbers import shown
from . import hardware, inputs, tuning
from .domain_xml import OPENVSWITCH, DiskTune
from .guest.addresses import MAC

T = TypeVar("T")

__all__ = [
    "MAX_DATA_DISKS",
    "MAX_NICS",
    "MAX_SERIAL_LENGTH",
    "NIC_KINDS",
    "DataDisk",
    "DiskBus",
    "Nic",
    "NicModel",
    "assign_macs",
    "data_disks",
    "new_mac",
    "nic_virtualport",
    "nics",
]

MAX_DATA_DISKS = 24
"""vdb..vdy: what one virtio letter range and one SCSI controller's ``sd`` range hold."""
MAX_NICS = 16
MAX_SERIAL_LENGTH = 20
"""The virtio-blk serial limit: ``/dev/disk/by-id/virtio-<serial>`` shows at most 20."""

_SERIAL = re.compile(r"[A-Za-z0-9._-]{1,20}")


class DiskBus(StrEnum):
    """Where a data disk sits; ``/dev/disk/by-id/virtio-<serial>`` exists on virtio only."""

    VIRTIO = "virtio"
    SCSI = "scsi"
    SATA = "sata"


class NicModel(StrEnum):
    VIRTIO = "virtio"
    E1000E = "e1000e"
    E1000 = "e1000"  # virt-install's and virt-manager's NIC for an OS they do not know
    RTL8139 = "rtl8139"


@dataclass(frozen=True)
class DataDisk:
    """One data disk as the VM attaches it. The VM never creates, grows or deletes it."""

    path: str
    """An absolute file path, or ``pool:volume``."""
    format: str = "qcow2"
    serial: str | None = ""
    """None: no serial at all (``"serial": False``), as a domain made elsewhere may have."""
    bus: DiskBus = DiskBus.VIRTIO
    readonly: bool = False
    iothread: int | None = None
    """The I/O thread (1-based, ``<driver iothread>``) the disk runs on; None: qemu's main
    loop. Left out of the recorded input when None (see :meth:`to_input`)."""
    tune: DiskTune = field(default_factory=DiskTune)
    """Cache and IO modes and IO limits; each left out of the recorded input when None."""

    @property
    def is_volume(self) -> bool:
        return not self.path.startswith("/")

    def to_input(self) -> dict[str, Any]:
        """As recorded in state: no serial is ``False`` (the SDK drops a None inside a
        mapping when it reads a bag back); a tuning key only when set (as the previous
        release recorded a disk)."""
        serial = False if self.serial is None else self.serial
        plain = {k: v for k, v in asdict(self).items() if k != "tune"}
        if self.iothread is None:
            del plain["iothread"]  # as the previous release recorded a disk
        tuned = {k: v for k, v in asdict(self.tune).items() if v is not None}
        return {**plain, "serial": serial, "bus": self.bus.value, **tuned}


@dataclass(frozen=True)
class Nic:
    """One NIC: on a host bridge or a libvirt network. ``mac`` None: kept or generated."""

    kind: str  # "bridge" | "network" | "direct"
    source: str
    """The bridge, the libvirt network, or (``direct``) the host interface (``dev``)."""
    mac: str | None = None
    model: NicModel = NicModel.VIRTIO
    # --- macvtap mode, VLAN tag, bandwidth (operations spec §4) ---
    mode: str | None = None
    vlan: int | None = None
    inbound: int | None = None
    outbound: int | None = None

    def to_input(self) -> dict[str, Any]:
        """As recorded in state: no ``mac`` key when none was given (the SDK drops a None
        inside a mapping when it reads a bag back, so a recorded ``None`` would be a change
        at every refresh); the same for the other optional keys."""
        mac = {"mac": self.mac} if self.mac else {}
        source = (
            {"type": self.kind, "dev": self.source, "mode": self.mode}
            if self.kind == "direct"
            else {self.kind: self.source}
        )
        vlan = {"vlan": self.vlan} if self.vlan is not None else {}
        limits = {k: getattr(self, k) for k in ("inbound", "outbound") if getattr(self, k)}
        shaped = {"bandwidth": limits} if limits else {}
        return {**source, **mac, "model": self.model.value, **vlan, **shaped}

    @property
    def virtualport(self) -> str | None:
        """The ``<virtualport>`` type this NIC is written with (see :func:`nic_virtualport`)."""
        return nic_virtualport(self.kind, self.vlan)


def nic_virtualport(kind: str, vlan: int | None) -> str | None:
    """``openvswitch`` for a tagged NIC on a bridge, else None: libvirt tags VLANs on a
    bridge only when the bridge is Open vSwitch's and the NIC says so (a Linux bridge refuses
    the tag at the start), so a ``vlan`` on a ``bridge`` NIC makes it an OVS port. An
    untagged NIC is a Linux bridge's port."""
    return OPENVSWITCH if kind == "bridge" and vlan is not None else None


def _entries(value: Any, what: str, limit: int) -> Sequence[Mapping[str, Any]]:
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"must be a list of {what}, got {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"holds {len(value)} entries; at most {limit} are supported")
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise ValueError(f"[{index}] must be a mapping ({what}), got {type(entry).__name__}")
    return value


def _keys(entry: Mapping[str, Any], index: int, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The entry's keys with a value (None means absent), refusing keys we do not know."""
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ValueError(
            f"[{index}] has unknown keys {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(allowed)}"
        )
    return {k: v for k, v in entry.items() if v is not None and v != ""}


def _entry_value(check: Callable[[Any], T], value: Any, where: str) -> T:
    """``check(value)`` (an input validator), its refusal naming the entry and key."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(f"{where} {exc}") from None


def _bus(value: Any) -> DiskBus:
    result: DiskBus = inputs.one_of(value, DiskBus)
    return result


def _model(value: Any) -> NicModel:
    result: NicModel = inputs.one_of(value, NicModel)
    return result


def _disk_source(value: Any) -> str:
    """A data disk's path as ``disk_path`` reads a base's: a normalised absolute path, or
    ``pool:volume``."""
    return inputs.disk_path(value).value


def _default_serial(path: str) -> str:
    """The file's stem (or the volume's name) cut to the virtio limit."""
    name = path.rpartition(":")[2] if not path.startswith("/") else posixpath.basename(path)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return stem[:MAX_SERIAL_LENGTH]


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false, got {shown(value)}")
    return value


def data_disks(value: Any) -> tuple[DataDisk, ...]:
    """``data_disks`` as given (idempotent on its own normalised output)."""
    disks: list[DataDisk] = []
    for index, raw in enumerate(_entries(value, "{'path': ...} mappings", MAX_DATA_DISKS)):
        entry = _keys(
            raw, index, ("path", "format", "serial", "bus", "readonly", "iothread", *_TUNING)
        )
        if "path" not in entry:
            raise ValueError(f"[{index}] needs a path (a VigoDisk's path, or pool:volume)")
        path = _entry_value(_disk_source, entry["path"], f"[{index}].path")
        fmt = entry.get("format", "qcow2")
        if fmt not in ("qcow2", "raw"):
            raise ValueError(f"[{index}].format must be qcow2 or raw, got {shown(fmt)}")
        serial = entry.get("serial", _default_serial(path))
        if serial is False:
            serial = None  # none at all: how a disk attached by another tool may be
        elif not isinstance(serial, str) or not _SERIAL.fullmatch(serial):
            raise ValueError(
                f"[{index}].serial must be 1-{MAX_SERIAL_LENGTH} characters from A-Z a-z 0-9 . _ - "
                f"(the guest sees /dev/disk/by-id/virtio-<serial>), got {shown(serial)}"
                + ("; set serial explicitly" if "serial" not in entry else "")
            )
        bus = _entry_value(_bus, entry.get("bus", DiskBus.VIRTIO.value), f"[{index}].bus")
        readonly = _bool(entry.get("readonly", False), f"[{index}].readonly")
        thread = entry.get("iothread")
        if thread is not None:
            thread = _entry_value(tuning.iothread, thread, f"[{index}].iothread")
            if bus is not DiskBus.VIRTIO:
                raise ValueError(
                    f"[{index}].iothread needs bus 'virtio' (qemu runs virtio-blk disks on "
                    f"I/O threads), got bus {bus.value!r}"
                )
        tune = disk_tune(entry, f"[{index}]")
        disks.append(DataDisk(path, fmt, serial, bus, readonly, thread, tune))
    _unique([d.path for d in disks], "path", "attach a disk once")
    _unique([d.serial for d in disks if d.serial], "serial", "give each disk its own serial")
    return tuple(disks)


def nics(value: Any) -> tuple[Nic, ...]:
    """``nics`` as given (idempotent on its own normalised output)."""
    result: list[Nic] = []
    for index, raw in enumerate(_entries(value, "{'bridge': ...} or {'network': ...}", MAX_NICS)):
        entry = _keys(raw, index, ("bridge", "network", "mac", "model", *_NIC_EXTRAS))
        kind = _nic_kind(entry, index)
        check = {"bridge": inputs.network_bridge, "network": inputs.network}.get(
            kind,
            inputs.network_bridge,  # a host interface's name: the same grammar
        )
        key = "dev" if kind == "direct" else kind
        source = _entry_value(check, entry[key], f"[{index}].{key}")
        mac = entry.get("mac")
        if mac is not None:
            mac = _mac(mac, f"[{index}].mac")
        model = _entry_value(_model, entry.get("model", NicModel.VIRTIO.value), f"[{index}].model")
        result.append(Nic(kind, source, mac, model, **_nic_extras(entry, kind, index)))
    _unique([n.mac for n in result if n.mac], "mac", "give each NIC its own MAC")
    return tuple(result)


def _mac(value: Any, where: str) -> str:
    text = value.lower() if isinstance(value, str) else value
    if not isinstance(text, str) or not MAC.fullmatch(text):
        raise ValueError(
            f"{where} must be a MAC address like 52:54:00:12:34:56, got {shown(value)}"
        )
    if int(text[:2], 16) & 1:
        raise ValueError(f"{where} {text} is a multicast address; a NIC needs a unicast MAC")
    return text


def _unique(values: list[str], key: str, fix: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key} {value!r} appears twice; {fix}")
        seen.add(value)


def new_mac() -> str:
    """A random MAC in QEMU's locally administered range."""
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def assign_macs(wanted: Sequence[Nic], previous: Sequence[str], first: str) -> tuple[str, ...]:
    """The MAC of each NIC: its own ``mac``, else the MAC the NIC at its position had
    (``previous``: from the live definition, else the recorded outputs), else ``first`` for
    position 0 (the VM's ``mac_address``, generated once even without a NIC, so a v1 VM keeps
    its MAC when its program moves to ``nics``), else a new one. No MAC is used twice."""
    given = {n.mac for n in wanted if n.mac}
    macs: list[str] = []
    for index, nic in enumerate(wanted):
        kept = previous[index] if index < len(previous) else (first if index == 0 else None)
        mac = nic.mac or kept or None
        while mac is None or (not nic.mac and (mac in given or mac in macs)):
            mac = new_mac()
        macs.append(mac)
    return tuple(macs)


# --- per-disk tuning; macvtap, VLAN and bandwidth per NIC (operations spec §4) ---

_TUNING = ("cache", "io", "iops", "bytes_per_s")
_NIC_EXTRAS = ("type", "dev", "mode", "vlan", "bandwidth")
NIC_KINDS = ("bridge", "network", "direct")
"""A NIC on a host bridge, a libvirt network or (macvtap) a host interface."""


def disk_tune(entry: Mapping[str, Any], where: str) -> DiskTune:
    """A disk's ``cache``, ``io``, ``iops`` and ``bytes_per_s`` (the keys of a data disk;
    the root's ``disk_*`` inputs the same way), refusing what qemu would."""
    checks: dict[str, Callable[[Any], Any]] = {
        "cache": hardware.cache,
        "io": hardware.io,
        "iops": hardware.iops,
        "bytes_per_s": hardware.bytes_per_s,
    }
    tune = DiskTune(
        **{
            key: _entry_value(check, entry[key], f"{where}.{key}")
            for key, check in checks.items()
            if entry.get(key) is not None
        }
    )
    conflict = hardware.tuning_conflict(tune)
    if conflict is not None:
        raise ValueError(f"{where}: {conflict}")
    return tune


def _nic_kind(entry: Mapping[str, Any], index: int) -> str:
    """``bridge``, ``network`` or ``direct``: by the source key given, ``type`` agreeing."""
    given = entry.get("type")
    if given is not None and given not in NIC_KINDS:
        raise ValueError(
            f"[{index}].type must be one of {', '.join(NIC_KINDS)}; got {shown(given)}"
        )
    keys = [
        k
        for k, source in (("bridge", "bridge"), ("network", "network"), ("direct", "dev"))
        if source in entry
    ]
    if len(keys) != 1:
        raise ValueError(
            f"[{index}] needs exactly one of bridge and network (or type='direct' with dev: "
            "macvtap on a host interface)"
        )
    kind = keys[0]
    if given is not None and given != kind:
        source = "dev" if given == "direct" else given
        raise ValueError(f"[{index}].type is {given!r} but the entry names a {kind}: give {source}")
    if kind == "direct" and given is None:
        raise ValueError(f"[{index}] names dev: add type='direct' (macvtap on that host interface)")
    if kind != "direct" and "mode" in entry:
        raise ValueError(f"[{index}].mode is a macvtap NIC's (type='direct'); drop it")
    return kind


def _nic_extras(entry: Mapping[str, Any], kind: str, index: int) -> dict[str, Any]:
    """A NIC's macvtap mode (``bridge`` by default), VLAN tag and bandwidth. libvirt tags
    VLANs only on Open vSwitch ports and SR-IOV VFs (macvtap ``passthrough``): a tagged
    ``bridge`` NIC is an OVS port (:attr:`Nic.virtualport`; the bridge is checked at
    preview), a tag on another macvtap mode fails at the start, so it is refused here."""
    mode = None
    if kind == "direct":
        mode = _entry_value(hardware.macvtap_mode, entry.get("mode", "bridge"), f"[{index}].mode")
    vlan = None
    if entry.get("vlan") is not None:
        vlan = _entry_value(hardware.vlan, entry["vlan"], f"[{index}].vlan")
        if kind == "direct" and mode != hardware.MacvtapMode.PASSTHROUGH:
            raise ValueError(
                f"[{index}].vlan: libvirt tags VLANs only on Open vSwitch ports and SR-IOV VFs, "
                f"not on macvtap mode {mode!r}: put the NIC on an Open vSwitch bridge "
                "({'bridge': ..., 'vlan': ...}), use mode='passthrough' on a VF, or a host "
                "VLAN interface (ip link add link eth0 name eth0.42 type vlan id 42) as dev"
            )
    limits: dict[str, int] = {}
    if entry.get("bandwidth") is not None:
        limits = _entry_value(hardware.bandwidth, entry["bandwidth"], f"[{index}].bandwidth")
    return {"mode": mode, "vlan": vlan, **limits}
