"""libvirt domain XML for one VM, built and parsed with ElementTree, never by formatting strings.

:class:`DomainConfig` is the part of a definition this package decides. :func:`to_xml`
renders it; :func:`from_xml` reads the same fields back from whatever libvirt reports, so
drift is found by comparing two DomainConfig values, never two strings. No policy here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

__all__ = [
    "GUEST_AGENT_CHANNEL",
    "MARKER_NAMESPACE",
    "MARKER_PREFIX",
    "DiskDevice",
    "DomainConfig",
    "LiveDomain",
    "NicDevice",
    "from_xml",
    "marker_xml",
    "to_xml",
    "with_live_addresses",
]

MARKER_NAMESPACE = "urn:pulumi-vigo-vm:domain:1"
"""Namespace of the ownership marker in ``<metadata>``: ``<vigo:vm claim="URN"/>`` names the
resource that owns the domain (the previous release wrote the element without a claim)."""

MARKER_PREFIX = "vigo"
_MARKER_TAG = f"{{{MARKER_NAMESPACE}}}vm"
_CLAIM_ATTRIBUTE = "claim"
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
ET.register_namespace(MARKER_PREFIX, MARKER_NAMESPACE)

_UNIT_TO_KIB = {
    "b": 1 / 1024, "bytes": 1 / 1024,
    "k": 1, "kib": 1, "kb": 1000 / 1024,
    "m": 1024, "mib": 1024, "mb": 1000**2 / 1024,
    "g": 1024**2, "gib": 1024**2, "gb": 1000**3 / 1024,
    "t": 1024**3, "tib": 1024**3, "tb": 1000**4 / 1024,
}  # fmt: skip


@dataclass(frozen=True)
class NicDevice:
    """One ``<interface>``: on a host bridge or a libvirt network."""

    kind: str  # "bridge" | "network"
    source: str
    mac: str | None = None
    model: str = "virtio"


@dataclass(frozen=True)
class DiskDevice:
    """One data disk: a file (``source`` an absolute path) or a pool volume (``pool:volume``)."""

    source: str
    target: str
    bus: str = "virtio"
    format: str = "qcow2"
    serial: str | None = None
    readonly: bool = False


@dataclass(frozen=True)
class DomainConfig:
    """The fields of a domain definition that this package owns and compares."""

    name: str
    uuid: str
    memory_mib: int
    vcpu: int
    domain_type: str
    overlay_path: str
    seed_iso_path: str | None = None
    console_log_path: str | None = None
    guest_agent: bool = False
    """The qemu guest agent's virtio-serial channel (``org.qemu.guest_agent.0``)."""
    nics: tuple[NicDevice, ...] = ()
    data_disks: tuple[DiskDevice, ...] = ()
    """The disks after the root overlay, in order."""

    @property
    def mac_address(self) -> str | None:
        """The first NIC's MAC."""
        return self.nics[0].mac if self.nics else None

    @property
    def macs(self) -> tuple[str, ...]:
        return tuple(nic.mac for nic in self.nics if nic.mac)

    def structural(self) -> DomainConfig:
        """This config without its UUID: what a redefine may change (MACs are kept by the
        plan, so a differing one is a NIC the user re-addressed)."""
        return replace(self, uuid="")

    def boot_relevant(self) -> DomainConfig:
        """The structural fields whose change is worth a restart of a running guest.

        Package defaults (the console log's name, the guest agent's channel) reach the
        persistent definition at once and the guest at its next boot: an upgrade of this
        package restarts nothing.
        """
        return replace(self.structural(), console_log_path=None, guest_agent=False)


@dataclass(frozen=True)
class LiveDomain:
    """A definition read back from libvirt, and what its ownership marker says.

    ``marked``: the ``<vigo:vm>`` element is there. ``claim``: the owner it names (None for a
    marker of the previous release, which named no owner)."""

    config: DomainConfig
    marked: bool
    claim: str | None = None


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _file_disk(
    devices: ET.Element, device: str, fmt: str, path: str, dev: str, bus: str
) -> ET.Element:
    disk = _sub(devices, "disk", type="file", device=device)
    _sub(disk, "driver", name="qemu", type=fmt)
    _sub(disk, "source", file=path)
    _sub(disk, "target", dev=dev, bus=bus)
    return disk


def _data_disk(devices: ET.Element, disk: DiskDevice) -> None:
    if disk.source.startswith("/"):
        element = _file_disk(devices, "disk", disk.format, disk.source, disk.target, disk.bus)
    else:
        pool, _, volume = disk.source.partition(":")
        element = _sub(devices, "disk", type="volume", device="disk")
        _sub(element, "driver", name="qemu", type=disk.format)
        _sub(element, "source", pool=pool, volume=volume)
        _sub(element, "target", dev=disk.target, bus=disk.bus)
    if disk.serial is not None:
        _sub(element, "serial", disk.serial)
    if disk.readonly:
        _sub(element, "readonly")


def _marker(claim: str, tag: str = _MARKER_TAG) -> ET.Element:
    marker = ET.Element(tag)
    marker.set("managed-by", "pulumi_vigo_vm")
    marker.set(_CLAIM_ATTRIBUTE, claim)
    return marker


def marker_xml(claim: str) -> str:
    """The marker element alone, for ``virDomainSetMetadata`` (rewrites it in place).

    Without its namespace: libvirt puts the element into the namespace it is given."""
    return ET.tostring(_marker(claim, _MARKER_TAG.rpartition("}")[2]), encoding="unicode")


def to_xml(config: DomainConfig, claim: str) -> str:
    """The full domain XML for ``config``, marked as owned by ``claim``."""
    domain = ET.Element("domain", type=config.domain_type)
    _sub(domain, "name", config.name)
    _sub(domain, "uuid", config.uuid)
    metadata = _sub(domain, "metadata")
    metadata.append(_marker(claim))
    _sub(domain, "memory", str(config.memory_mib), unit="MiB")
    _sub(domain, "vcpu", str(config.vcpu), placement="static")
    os_element = _sub(domain, "os")
    _sub(os_element, "type", "hvm")
    _sub(os_element, "boot", dev="hd")
    features = _sub(domain, "features")
    _sub(features, "acpi")  # graceful shutdown is an ACPI power-button press
    _sub(features, "apic")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")

    devices = _sub(domain, "devices")
    _file_disk(devices, "disk", "qcow2", config.overlay_path, "vda", "virtio")
    for disk in config.data_disks:
        _data_disk(devices, disk)
    if config.seed_iso_path is not None or any(d.bus == "scsi" for d in config.data_disks):
        # Debian's cloud kernels have no AHCI driver: the seed must sit on virtio-scsi.
        _sub(devices, "controller", type="scsi", index="0", model="virtio-scsi")
    if config.seed_iso_path is not None:
        cdrom = _file_disk(devices, "cdrom", "raw", config.seed_iso_path, "sda", "scsi")
        _sub(cdrom, "readonly")
    for nic in config.nics:
        interface = _sub(devices, "interface", type=nic.kind)
        if nic.mac is not None:
            _sub(interface, "mac", address=nic.mac)
        _sub(interface, "source", **{nic.kind: nic.source})
        _sub(interface, "model", type=nic.model)
    serial = _sub(devices, "serial", type="pty")
    if config.console_log_path is not None:
        _sub(serial, "log", file=config.console_log_path, append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    if config.guest_agent:
        channel = _sub(devices, "channel", type="unix")
        _sub(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
    rng = _sub(devices, "rng", model="virtio")
    _sub(rng, "backend", "/dev/urandom", model="random")
    return ET.tostring(domain, encoding="unicode")


def _memory_mib(element: ET.Element | None) -> int:
    if element is None or element.text is None:
        return 0
    unit = element.get("unit", "KiB")
    factor = _UNIT_TO_KIB.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown memory unit {unit!r} in domain XML")
    return int(int(element.text) * factor) // 1024


def _disk_source(devices: ET.Element | None, device: str) -> str | None:
    if devices is None:
        return None
    for disk in devices.findall("disk"):
        if disk.get("device") == device:
            source = disk.find("source")
            return source.get("file") if source is not None else None
    return None


def _source_of(disk: ET.Element) -> str:
    """A disk's source as data_disks names it: a file path or ``pool:volume``."""
    source = disk.find("source")
    if source is None:
        return ""
    if source.get("pool") is not None:
        return f"{source.get('pool')}:{source.get('volume', '')}"
    return source.get("file") or source.get("dev") or ""


def _data_disks(devices: ET.Element | None) -> tuple[DiskDevice, ...]:
    """Every ``device='disk'`` after the first (the root overlay)."""
    if devices is None:
        return ()
    disks = [d for d in devices.findall("disk") if d.get("device", "disk") == "disk"][1:]
    result = []
    for disk in disks:
        target, driver = disk.find("target"), disk.find("driver")
        result.append(
            DiskDevice(
                source=_source_of(disk),
                target=target.get("dev", "") if target is not None else "",
                bus=target.get("bus", "") if target is not None else "",
                format=driver.get("type", "raw") if driver is not None else "raw",
                serial=disk.findtext("serial"),
                readonly=disk.find("readonly") is not None,
            )
        )
    return tuple(result)


def _nics(devices: ET.Element | None) -> tuple[NicDevice, ...]:
    if devices is None:
        return ()
    result = []
    for interface in devices.findall("interface"):
        kind = interface.get("type", "")
        source, mac, model = (interface.find(t) for t in ("source", "mac", "model"))
        result.append(
            NicDevice(
                kind=kind,
                source=(source.get(kind) or "") if source is not None else "",
                mac=mac.get("address") if mac is not None else None,
                model=model.get("type", "") if model is not None else "",
            )
        )
    return tuple(result)


def _has_agent_channel(devices: ET.Element | None) -> bool:
    if devices is None:
        return False
    return any(
        target.get("name") == GUEST_AGENT_CHANNEL for target in devices.iterfind("channel/target")
    )


def from_xml(text: str) -> LiveDomain:
    """Read a domain XML (as libvirt reports it) back into a :class:`LiveDomain`."""
    domain = ET.fromstring(text)
    devices = domain.find("devices")
    log = None
    if devices is not None:
        log_element = devices.find("serial/log")
        log = log_element.get("file") if log_element is not None else None
    marker = domain.find(f"metadata/{_MARKER_TAG}")
    config = DomainConfig(
        name=domain.findtext("name", ""),
        uuid=domain.findtext("uuid", ""),
        memory_mib=_memory_mib(domain.find("memory")),
        vcpu=int(domain.findtext("vcpu", "0")),
        domain_type=domain.get("type", ""),
        overlay_path=_disk_source(devices, "disk") or "",
        seed_iso_path=_disk_source(devices, "cdrom"),
        console_log_path=log,
        guest_agent=_has_agent_channel(devices),
        nics=_nics(devices),
        data_disks=_data_disks(devices),
    )
    claim = marker.get(_CLAIM_ATTRIBUTE) if marker is not None else None
    return LiveDomain(config=config, marked=marker is not None, claim=claim)


def _device_key(device: ET.Element) -> tuple[str, ...] | None:
    """What identifies a device across redefines (None: nothing to carry over)."""
    tag = device.tag
    if tag == "disk":
        return (tag, device.get("device", "disk"), _source_of(device))
    if tag == "interface":
        mac = device.find("mac")
        return (tag, mac.get("address", "")) if mac is not None else None
    if tag == "controller":
        return (tag, device.get("type", ""), device.get("index", ""))
    if tag == "channel":
        target = device.find("target")
        return (tag, target.get("name", "")) if target is not None else None
    if tag == "rng":
        return (tag, device.get("model", ""))
    return None


def with_live_addresses(xml: str, live_xml: str) -> str:
    """``xml`` with the PCI address each device has in ``live_xml`` (a disk by its source, a
    NIC by its MAC, ...), so a redefine that adds or removes a device moves no other: the
    guest's NIC names (``enp1s0``) follow their PCI slots."""
    domain, live = ET.fromstring(xml), ET.fromstring(live_xml)
    addresses: dict[tuple[str, ...], ET.Element] = {}
    for device in live.findall("devices/*"):
        key, address = _device_key(device), device.find("address")
        if key is not None and address is not None and address.get("type") == "pci":
            addresses.setdefault(key, address)
    for device in domain.findall("devices/*"):
        key = _device_key(device)
        if key in addresses and device.find("address") is None:
            device.append(addresses[key])
    return ET.tostring(domain, encoding="unicode")
