"""libvirt domain XML for one VM, built and parsed with ElementTree, never by formatting strings.

:class:`DomainConfig` is the part of a definition this package decides. :func:`to_xml`
renders it; :func:`from_xml` reads the same fields back from whatever libvirt reports, so
drift is found by comparing two DomainConfig values, never two strings. No policy here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ..common.arches import X86_ARCHES
from .machines import machine_family
from .tuning import Filesystem, HostDevice, Numa, NumaMode, format_cpu_set, parse_cpu_set

__all__ = [
    "BIOS",
    "DEFAULT_BOOT_ORDER",
    "EFI",
    "EFI_SECURE",
    "GUEST_AGENT_CHANNEL",
    "KEPT_UNLESS_GIVEN",
    "MARKER_NAMESPACE",
    "MARKER_PREFIX",
    "OPENVSWITCH",
    "DiskDevice",
    "DiskTune",
    "DomainConfig",
    "Firmware",
    "GraphicsDevice",
    "LiveDomain",
    "NicDevice",
    "NicLink",
    "WatchdogDevice",
    "device_xml",
    "from_xml",
    "has_device",
    "marker_xml",
    "nic_links",
    "to_xml",
    "with_live_addresses",
    "with_unmodelled",
]

MARKER_NAMESPACE = "urn:pulumi-vigo-vm:domain:1"
"""Namespace of the ownership marker in ``<metadata>``: ``<vigo:vm claim="URN"/>`` names the
resource that owns the domain (the previous release wrote the element without a claim)."""

MARKER_PREFIX = "vigo"
_MARKER_TAG = f"{{{MARKER_NAMESPACE}}}vm"
_CLAIM_ATTRIBUTE = "claim"
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
OPENVSWITCH = "openvswitch"
"""The ``<virtualport type>`` of a NIC on an Open vSwitch bridge."""
ET.register_namespace(MARKER_PREFIX, MARKER_NAMESPACE)


class Firmware(StrEnum):
    """What the guest boots through."""

    BIOS = "bios"  # SeaBIOS on x86 (libvirt's default); on arches without a BIOS, their UEFI
    EFI = "efi"  # UEFI from the host's firmware descriptors (OVMF, AAVMF), Secure Boot off
    EFI_SECURE = "efi-secure"  # OVMF with Secure Boot (Microsoft keys enrolled), SMM, q35


BIOS, EFI, EFI_SECURE = Firmware.BIOS.value, Firmware.EFI.value, Firmware.EFI_SECURE.value
"""What :attr:`DomainConfig.firmware` holds (the ``firmware`` input's values, as text)."""
_SECURE_BOOT = "secure-boot"
_ENROLLED_KEYS = "enrolled-keys"

_UNIT_TO_KIB = {
    "b": 1 / 1024, "bytes": 1 / 1024,
    "k": 1, "kib": 1, "kb": 1000 / 1024,
    "m": 1024, "mib": 1024, "mb": 1000**2 / 1024,
    "g": 1024**2, "gib": 1024**2, "gb": 1000**3 / 1024,
    "t": 1024**3, "tib": 1024**3, "tb": 1000**4 / 1024,
}  # fmt: skip


# --- the tuning and devices an operator sets (operations spec §4) ---


@dataclass(frozen=True)
class DiskTune:
    """A disk's ``<driver cache= io=>`` and ``<iotune>`` totals; None: libvirt's default."""

    cache: str | None = None
    io: str | None = None
    iops: int | None = None
    """``<total_iops_sec>``."""
    bytes_per_s: int | None = None
    """``<total_bytes_sec>``."""


@dataclass(frozen=True)
class WatchdogDevice:
    """``<watchdog model= action=>``. ``kept``: not the package's (the input is omitted): the
    definition's own stays as it is, unwritten (see :func:`with_unmodelled`)."""

    model: str
    action: str
    kept: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class GraphicsDevice:
    """``<graphics type= autoport listen=>``. The password is written, never compared: libvirt
    reports it only to a caller asking for secure XML, which the package never is (a change
    of it is told from the inputs). ``port``: what a running domain reports (autoport), never
    compared. ``kept``: as :class:`WatchdogDevice`'s."""

    type: str
    listen: str | None = None
    password: str | None = field(default=None, compare=False, repr=False)
    port: int | None = field(default=None, compare=False)
    kept: bool = field(default=False, compare=False)


DEFAULT_BOOT_ORDER = ("hd",)
"""What every definition of the previous release boots from."""


@dataclass(frozen=True)
class NicDevice:
    """One ``<interface>``: on a host bridge or a libvirt network."""

    kind: str  # "bridge" | "network" | "direct"
    source: str
    mac: str | None = None
    model: str = "virtio"
    # --- macvtap, VLAN tag and bandwidth (operations spec §4) ---
    mode: str | None = None
    """A ``direct`` (macvtap) NIC's mode (``bridge``, ``vepa``, ``private``, ``passthrough``)."""
    vlan: int | None = None
    """``<vlan><tag id=…>``."""
    inbound: int | None = None
    """``<bandwidth><inbound average=…>``, KiB/s."""
    outbound: int | None = None
    """``<bandwidth><outbound average=…>``, KiB/s."""
    virtualport: str | None = None
    """``<virtualport type=…>`` (:data:`OPENVSWITCH` for a port on an Open vSwitch bridge);
    the ``interfaceid`` libvirt adds is its own."""


@dataclass(frozen=True)
class DiskDevice:
    """One data disk: a file (``source`` an absolute path) or a pool volume (``pool:volume``)."""

    source: str
    target: str
    bus: str = "virtio"
    format: str = "qcow2"
    serial: str | None = None
    readonly: bool = False
    iothread: int | None = None
    """``<driver iothread>``: the I/O thread (1-based) the disk runs on."""
    tune: DiskTune = DiskTune()  # cache, io, iotune


@dataclass(frozen=True)
class DomainConfig:
    """The fields of a domain definition that this package owns and compares."""

    name: str
    uuid: str
    memory_mib: int
    vcpu: int
    domain_type: str
    overlay_path: str
    """The root disk (``vda``): the overlay, or an attached root (a file or ``pool:volume``)."""
    seed_iso_path: str | None = None
    console_log_path: str | None = None
    guest_agent: bool = False
    """The qemu guest agent's virtio-serial channel (``org.qemu.guest_agent.0``)."""
    nics: tuple[NicDevice, ...] = ()
    data_disks: tuple[DiskDevice, ...] = ()
    """The disks after the root overlay, in order."""
    arch: str | None = None
    """``<type arch=…>``; None: libvirt's (the host's own)."""
    machine: str | None = None
    """``<type machine=…>``; compared by family (see :mod:`pulumi_vigo_vm.vm.machines`)."""
    firmware: str = BIOS
    """``bios`` (no firmware attribute: libvirt 9.0 lists only ``efi``), ``efi`` (Secure
    Boot off), ``efi-secure`` (Secure Boot with enrolled keys, and SMM)."""
    nvram_path: str | None = None
    """The per-VM UEFI variable store (``<nvram>``); libvirt fills it from the firmware's
    template at first start."""
    tpm: bool = False
    """An emulated TPM 2.0 (swtpm), its state kept by libvirt beside the domain."""
    cpu_mode: str | None = None
    """``host-passthrough``, ``host-model``, ``maximum`` or ``custom:<model>``; None: no
    ``<cpu>`` (libvirt's ``qemu64``)."""
    discard: bool = False
    """``discard='unmap'`` on every disk: a guest's ``fstrim`` returns space."""
    max_vcpu: int | None = None
    """``<vcpu>``, with ``vcpu`` its ``current`` (vCPUs hot-plugged up to it); None: ``vcpu``."""
    max_memory_mib: int | None = None
    """``<memory>``, with ``memory_mib`` its ``<currentMemory>`` (the balloon's target up to
    it); None: ``memory_mib``."""
    root_format: str = "qcow2"
    """The root's format: an overlay's is qcow2, an attached root's is its own."""
    # --- Hardware and tuning (operations spec §4); see :func:`_tuning` and
    # :func:`_read_tuning`.
    host_devices: tuple[HostDevice, ...] = ()
    """``<hostdev mode='subsystem' managed='yes'>``, PCI or USB, in order."""
    filesystems: tuple[Filesystem, ...] = ()
    """virtiofs ``<filesystem>`` shares; any brings shared memory (memfd) with it."""
    cpu_pinning: tuple[str, ...] = ()
    """``<cputune><vcpupin>``: the host CPU set of vCPU 0, 1, ... as libvirt writes sets."""
    numa: Numa | None = None
    """``<numatune><memory>``."""
    hugepages: bool | int = False
    """``<memoryBacking><hugepages>``: True (the host's default size) or a page size in KiB."""
    iothreads: int | None = None
    """``<iothreads>``."""
    # --- the tuning and devices an operator sets (operations spec §4) ---
    root_tune: DiskTune = DiskTune()
    rng: bool = True
    """A virtio RNG fed from the host's ``/dev/urandom`` (every definition of the previous
    release has one)."""
    watchdog: WatchdogDevice | None = None
    graphics: GraphicsDevice | None = None
    boot_order: tuple[str, ...] = DEFAULT_BOOT_ORDER

    @property
    def mac_address(self) -> str | None:
        """The first NIC's MAC."""
        return self.nics[0].mac if self.nics else None

    @property
    def macs(self) -> tuple[str, ...]:
        return tuple(nic.mac for nic in self.nics if nic.mac)

    def canonical(self) -> DomainConfig:
        """This config with a maximum equal to its current value left out (None), as a
        domain of the previous release reads back and as its spec asks for it."""
        return replace(
            self,
            max_vcpu=None if self.max_vcpu == self.vcpu else self.max_vcpu,
            max_memory_mib=None if self.max_memory_mib == self.memory_mib else self.max_memory_mib,
        )

    def structural(self) -> DomainConfig:
        """This config without its UUID: what a redefine may change (MACs are kept by the
        plan, so a differing one is a NIC the user re-addressed).

        The machine is compared by family: libvirt stores ``q35`` as ``pc-q35-7.2``."""
        family = machine_family(self.machine) if self.machine is not None else None
        return replace(
            self,
            uuid="",
            machine=family,
            max_vcpu=self.max_vcpu or self.vcpu,
            max_memory_mib=self.max_memory_mib or self.memory_mib,
        )


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


def _disk(devices: ET.Element, source: str, fmt: str, dev: str, bus: str) -> ET.Element:
    """A ``device='disk'``: a file (``source`` an absolute path) or a pool volume."""
    if source.startswith("/"):
        return _file_disk(devices, "disk", fmt, source, dev, bus)
    pool, _, volume = source.partition(":")
    element = _sub(devices, "disk", type="volume", device="disk")
    _sub(element, "driver", name="qemu", type=fmt)
    _sub(element, "source", pool=pool, volume=volume)
    _sub(element, "target", dev=dev, bus=bus)
    return element


def _data_disk(devices: ET.Element, disk: DiskDevice) -> ET.Element:
    element = _disk(devices, disk.source, disk.format, disk.target, disk.bus)
    if disk.iothread is not None:
        _driver(element).set("iothread", str(disk.iothread))
    if disk.serial is not None:
        _sub(element, "serial", disk.serial)
    if disk.readonly:
        _sub(element, "readonly")
    _tune(element, disk.tune)
    return element


def _nic(devices: ET.Element, nic: NicDevice) -> ET.Element:
    interface = _sub(devices, "interface", type=nic.kind)
    if nic.mac is not None:
        _sub(interface, "mac", address=nic.mac)
    source = _sub(interface, "source", **{_SOURCE_ATTRIBUTE.get(nic.kind, nic.kind): nic.source})
    _sub(interface, "model", type=nic.model)
    _nic_extras(interface, source, nic)
    return interface


def _device(device: DiskDevice | NicDevice, discard: bool) -> ET.Element:
    holder = ET.Element("devices")
    if isinstance(device, NicDevice):
        return _nic(holder, device)
    element = _data_disk(holder, device)
    if discard and not device.readonly:
        _driver(element).set("discard", "unmap")
    return element


def device_xml(device: DiskDevice | NicDevice, discard: bool, definition: str | None = None) -> str:
    """One data disk or NIC alone, as a hot-plug passes it; with the PCI address it has in
    ``definition`` (a domain's XML), so a device the persistent definition already holds
    gets the same slot in the running guest."""
    element = _device(device, discard)
    if definition is not None:
        key = _device_key(element)
        for found in ET.fromstring(definition).findall("devices/*"):
            address = found.find("address")
            if _device_key(found) == key and address is not None:
                element.append(address)
                break
    return ET.tostring(element, encoding="unicode")


def has_device(definition: str, device: DiskDevice | NicDevice) -> bool:
    """``definition`` (a domain's XML) holds ``device`` (a disk by its source, a NIC by
    its MAC)."""
    key = _device_key(_device(device, False))
    return any(
        _device_key(found) == key for found in ET.fromstring(definition).findall("devices/*")
    )


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
    maximum = config.max_memory_mib or config.memory_mib
    _sub(domain, "memory", str(maximum), unit="MiB")
    if maximum != config.memory_mib:
        _sub(domain, "currentMemory", str(config.memory_mib), unit="MiB")
    vcpu = _sub(domain, "vcpu", str(config.max_vcpu or config.vcpu), placement="static")
    if (config.max_vcpu or config.vcpu) != config.vcpu:
        vcpu.set("current", str(config.vcpu))
    _tuning(domain, config)
    _os(domain, config)
    features = _sub(domain, "features")
    _sub(features, "acpi")  # graceful shutdown is an ACPI power-button press
    if config.arch is None or config.arch in X86_ARCHES:
        _sub(features, "apic")
    if config.firmware == EFI_SECURE:
        _sub(features, "smm", state="on")  # Secure Boot's variables are guarded by SMM
    if config.cpu_mode is not None:
        _cpu(domain, config.cpu_mode)
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")

    devices = _sub(domain, "devices")
    root = _disk(devices, config.overlay_path, config.root_format, "vda", "virtio")
    if config.discard:
        _driver(root).set("discard", "unmap")
    _tune(root, config.root_tune)
    for disk in config.data_disks:
        element = _data_disk(devices, disk)
        if config.discard and not disk.readonly:
            _driver(element).set("discard", "unmap")
    if config.seed_iso_path is not None or any(d.bus == "scsi" for d in config.data_disks):
        # Debian's cloud kernels have no AHCI driver: the seed must sit on virtio-scsi.
        _sub(devices, "controller", type="scsi", index="0", model="virtio-scsi")
    if config.seed_iso_path is not None:
        cdrom = _file_disk(devices, "cdrom", "raw", config.seed_iso_path, *_SEED_SLOT)
        _sub(cdrom, "readonly")
    for nic in config.nics:
        _nic(devices, nic)
    _tuning_devices(devices, config)
    serial = _sub(devices, "serial", type="pty")
    if config.console_log_path is not None:
        _sub(serial, "log", file=config.console_log_path, append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    if config.guest_agent:
        channel = _sub(devices, "channel", type="unix")
        _sub(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
    if config.rng:
        rng = _sub(devices, "rng", model="virtio")
        _sub(rng, "backend", "/dev/urandom", model="random")
    if config.tpm:
        # No model: libvirt picks the arch's (tpm-tis on x86, tpm-tis-device elsewhere).
        _sub(_sub(devices, "tpm"), "backend", type="emulator", version="2.0")
    _operator_devices(devices, config)
    return ET.tostring(domain, encoding="unicode")


def _driver(disk: ET.Element) -> ET.Element:
    driver = disk.find("driver")
    assert driver is not None
    return driver


def _os(domain: ET.Element, config: DomainConfig) -> None:
    """``<os>``: arch, machine, and UEFI through libvirt's firmware auto-selection (the
    host's descriptors under /usr/share/qemu/firmware), with our own NVRAM path."""
    os_element = _sub(domain, "os")
    kind = _sub(os_element, "type", "hvm")
    if config.arch is not None:
        kind.set("arch", config.arch)
    if config.machine is not None:
        kind.set("machine", config.machine)
    if config.firmware != BIOS:
        os_element.set("firmware", "efi")
        secure = "yes" if config.firmware == EFI_SECURE else "no"
        wanted = _sub(os_element, "firmware")
        _sub(wanted, "feature", enabled=secure, name=_ENROLLED_KEYS)
        _sub(wanted, "feature", enabled=secure, name=_SECURE_BOOT)
        if config.nvram_path is not None:
            _sub(os_element, "nvram", config.nvram_path)
    for dev in config.boot_order:
        _sub(os_element, "boot", dev=dev)


def _cpu(domain: ET.Element, mode: str) -> None:
    kind, _, model = mode.partition(":")
    if kind != "custom":
        _sub(domain, "cpu", mode=mode)
        return
    cpu = _sub(domain, "cpu", mode="custom", match="exact")
    _sub(cpu, "model", model, fallback="forbid")


def _firmware(os_element: ET.Element | None) -> str:
    """What a definition boots through, as libvirt reports it: before a start only the
    auto-selection request (``firmware='efi'`` and its features), once running the loader
    it chose (``<loader type='pflash' secure='yes'>``)."""
    if os_element is None:
        return BIOS
    loader = os_element.find("loader")
    efi = os_element.get("firmware") == "efi" or (
        loader is not None and loader.get("type") == "pflash"
    )
    if not efi:
        return BIOS
    secure = (loader is not None and loader.get("secure") == "yes") or any(
        f.get("name") == _SECURE_BOOT and f.get("enabled") == "yes"
        for f in os_element.iterfind("firmware/feature")
    )
    return EFI_SECURE if secure else EFI


def _cpu_mode(cpu: ET.Element | None) -> str | None:
    if cpu is None:
        return None
    mode = cpu.get("mode", "custom")
    if mode != "custom":
        return mode
    model = cpu.findtext("model")
    return f"custom:{model}" if model else None


def _root_discard(devices: ET.Element | None) -> bool:
    if devices is None:
        return False
    for disk in devices.findall("disk"):
        if disk.get("device") == "disk":
            driver = disk.find("driver")
            return driver is not None and driver.get("discard") == "unmap"
    return False


def _has_tpm_emulator(devices: ET.Element | None) -> bool:
    return devices is not None and any(
        backend.get("type") == "emulator" for backend in devices.iterfind("tpm/backend")
    )


def _memory_mib(element: ET.Element | None) -> int:
    if element is None or element.text is None:
        return 0
    unit = element.get("unit", "KiB")
    factor = _UNIT_TO_KIB.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown memory unit {unit!r} in domain XML")
    return int(int(element.text) * factor) // 1024


def _first(parent: ET.Element, *tags: str) -> ET.Element | None:
    """The first of ``tags`` ``parent`` has (an element without children is falsy: never
    chain ``find`` with ``or``)."""
    for tag in tags:
        element = parent.find(tag)
        if element is not None:
            return element
    return None


def _root(devices: ET.Element | None) -> tuple[str, str]:
    """The first ``device='disk'`` (the root): its source as ``disk_path`` names it, and its
    format; ``("", "qcow2")`` when there is none."""
    for disk in devices.findall("disk") if devices is not None else ():
        if disk.get("device", "disk") == "disk":
            driver = disk.find("driver")
            return _source_of(disk), driver.get("type", "raw") if driver is not None else "raw"
    return "", "qcow2"


_SEED_SLOT = ("sda", "scsi")
"""Where :func:`to_xml` puts the seed CD-ROM (target, bus): a CD-ROM elsewhere (an installer
ISO, an empty tray) is not the package's."""


def _is_seed_slot(disk: ET.Element) -> bool:
    target = disk.find("target")
    return (
        disk.get("device") == "cdrom"
        and target is not None
        and (target.get("dev"), target.get("bus")) == _SEED_SLOT
    )


def _seed_source(devices: ET.Element | None) -> str | None:
    """The file of the CD-ROM in the seed's slot (see :data:`_SEED_SLOT`)."""
    for disk in devices.findall("disk") if devices is not None else ():
        if _is_seed_slot(disk):
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
                iothread=_int_or_none(driver.get("iothread") if driver is not None else None),
                tune=_read_tune(disk),
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
        attribute = _SOURCE_ATTRIBUTE.get(kind, kind)
        result.append(
            NicDevice(
                kind=kind,
                source=(source.get(attribute) or "") if source is not None else "",
                mac=mac.get("address") if mac is not None else None,
                model=model.get("type", "") if model is not None else "",
                **_read_nic_extras(interface, source),
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class NicLink:
    """Where one NIC of a running domain is attached: its MAC (lower-case), its libvirt
    network (None on a host bridge) and the host bridge its tap is a port of (None when
    there is none, as for macvtap)."""

    mac: str
    network: str | None
    bridge: str | None


def nic_links(text: str) -> tuple[NicLink, ...]:
    """The NICs of a domain's *live* XML as :class:`NicLink`, in order.

    A running domain's ``<source network=…>`` carries the ``bridge`` libvirt took from the
    network's definition when it plugged the NIC in: the device the NIC's traffic (and so
    its neighbour entries and DHCP leases) is on, as it is now, not as the network's
    definition may say after a redefine. A NIC without a MAC is left out.
    """
    devices = ET.fromstring(text).find("devices")
    links = []
    for interface in devices.findall("interface") if devices is not None else ():
        kind = interface.get("type", "")
        source, mac = interface.find("source"), interface.find("mac")
        address = mac.get("address") if mac is not None else None
        if not address:
            continue
        network = source.get("network") if source is not None and kind == "network" else None
        bridge = source.get("bridge") if source is not None else None
        links.append(NicLink(address.lower(), network, bridge or None))
    return tuple(links)


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
    os_element = domain.find("os")
    kind = os_element.find("type") if os_element is not None else None
    nvram = os_element.findtext("nvram") if os_element is not None else None
    vcpus = domain.find("vcpu")
    root_path, root_format = _root(devices)
    config = DomainConfig(
        name=domain.findtext("name", ""),
        uuid=domain.findtext("uuid", ""),
        memory_mib=_memory_mib(_first(domain, "currentMemory", "memory")),
        vcpu=int(vcpus.get("current") or vcpus.text or "0") if vcpus is not None else 0,
        domain_type=domain.get("type", ""),
        overlay_path=root_path,
        seed_iso_path=_seed_source(devices),
        console_log_path=log,
        guest_agent=_has_agent_channel(devices),
        nics=_nics(devices),
        data_disks=_data_disks(devices),
        arch=kind.get("arch") if kind is not None else None,
        machine=kind.get("machine") if kind is not None else None,
        firmware=_firmware(os_element),
        nvram_path=nvram.strip() if nvram else None,
        tpm=_has_tpm_emulator(devices),
        cpu_mode=_cpu_mode(domain.find("cpu")),
        discard=_root_discard(devices),
        max_vcpu=int(vcpus.text or "0") if vcpus is not None else None,
        max_memory_mib=_memory_mib(domain.find("memory")),
        root_format=root_format,
        **_read_operator_fields(devices, os_element),
    )
    config = _with_tuning(config, domain).canonical()
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
    if tag in ("hostdev", "filesystem"):
        return _tuning_device_key(device)
    return None


def with_live_addresses(xml: str, *live_xml: str) -> str:
    """``xml`` with the PCI address each device has in ``live_xml`` (a disk by its source, a
    NIC by its MAC, ...; the first definition that has the device wins), so a redefine that
    adds or removes a device moves no other: the guest's NIC names (``enp1s0``) follow
    their PCI slots."""
    domain = ET.fromstring(xml)
    addresses: dict[tuple[str, ...], ET.Element] = {}
    for live in live_xml:
        for device in ET.fromstring(live).findall("devices/*"):
            key, address = _device_key(device), device.find("address")
            if key is not None and address is not None and address.get("type") == "pci":
                addresses.setdefault(key, address)
    for device in domain.findall("devices/*"):
        key = _device_key(device)
        if key in addresses and device.find("address") is None:
            device.append(addresses[key])
    return ET.tostring(domain, encoding="unicode")


_MODELLED_DEVICES = frozenset(
    {"interface", "controller", "serial", "console", "rng", "tpm", "emulator"}
)
"""Device kinds :func:`to_xml` writes in full, besides disks and the agent's channel (see
:func:`_modelled`). Controllers are libvirt's to derive from the devices (it adds the USB,
PCI, SATA and virtio-serial ones a definition needs); the emulator is libvirt's default."""

_WRITTEN_FEATURES = frozenset({"acpi", "apic", "smm"})
"""The ``<features>`` :func:`to_xml` decides; the others a definition has are kept."""

_KEPT_TOP_LEVEL = (
    "title",
    "description",
    "maxMemory",
    "memtune",
    "blkiotune",
    "resource",
    "sysinfo",
    "idmap",
    "clock",
    "perf",
    "pm",
    "seclabel",
    "keywrap",
    "launchSecurity",
)
"""Elements of a definition outside ``<devices>`` that the package does not decide, kept
across a redefine (a domain's clock, power management, tuning, security labels)."""


def _modelled(device: ET.Element) -> bool:
    """Whether the package owns ``device`` (and so writes it, and finds it drifted): every
    ``device='disk'`` (the root and the data disks), the CD-ROM in the seed's slot, every NIC,
    the serial console, the agent's channel, the RNG, the TPM, the controllers libvirt
    derives, PCI and USB host devices and virtiofs shares. Everything else (graphics, video,
    sound, input, USB redirection, other host devices and filesystems, watchdogs, other
    CD-ROMs and channels, the memory balloon...) is left as it is."""
    tag = device.tag
    if tag == "disk":
        return device.get("device", "disk") == "disk" or _is_seed_slot(device)
    if tag == "channel":
        return any(t.get("name") == GUEST_AGENT_CHANNEL for t in device.iterfind("target"))
    if tag in ("hostdev", "filesystem"):
        return _tuning_device_key(device) is not None
    return tag in _MODELLED_DEVICES


def with_unmodelled(xml: str, live_xml: str) -> str:
    """``xml`` with what ``live_xml`` (the definition being replaced) holds that the package
    does not model (see :func:`_modelled`): its other devices, ``<features>``, metadata of
    other tools and the top-level elements of :data:`_KEPT_TOP_LEVEL`, each as it is. A
    redefine then changes only what the inputs decide: a hand-added VNC display, or a
    virt-install domain's video card and tablet, stay."""
    domain, live = ET.fromstring(xml), ET.fromstring(live_xml)
    devices = domain.find("devices")
    assert devices is not None
    written = {d.tag for d in devices if d.tag in KEPT_UNLESS_GIVEN}  # theirs replaced
    devices.extend(
        d for d in live.findall("devices/*") if not _modelled(d) and d.tag not in written
    )
    metadata = domain.find("metadata")
    assert metadata is not None
    metadata.extend(m for m in live.findall("metadata/*") if m.tag != _MARKER_TAG)
    features = domain.find("features")
    if features is not None:
        features.extend(f for f in live.findall("features/*") if f.tag not in _WRITTEN_FEATURES)
    for tag in _KEPT_TOP_LEVEL:
        element = live.find(tag)
        if element is not None and domain.find(tag) is None:
            domain.insert(list(domain).index(devices), element)
    _keep_unmodelled_tuning(domain, live)
    return ET.tostring(domain, encoding="unicode")


# --- Hardware and tuning (operations spec §4): rendered, read back, kept -----------------

_SHARED_MEMORY = ("memfd", "shared")
"""``<memoryBacking><source type='memfd'/><access mode='shared'/>``: what virtiofsd needs
to map the guest's memory (set with any virtiofs share)."""

_TUNING_CHILDREN = {
    "cputune": frozenset({"vcpupin"}),
    "numatune": frozenset({"memory"}),
    "memoryBacking": frozenset({"hugepages", "source", "access"}),
}
"""The children of these top-level elements the package decides; the rest of each (an
operator's ``<shares>``, ``<emulatorpin>``, ``<memnode>``, ``<locked>``...) is kept across
a redefine."""


def _tuning(domain: ET.Element, config: DomainConfig) -> None:
    """``<iothreads>``, ``<cputune>``, ``<numatune>`` and ``<memoryBacking>``."""
    if config.iothreads is not None:
        _sub(domain, "iothreads", str(config.iothreads))
    if config.cpu_pinning:
        cputune = _sub(domain, "cputune")
        for vcpu, cpuset in enumerate(config.cpu_pinning):
            _sub(cputune, "vcpupin", vcpu=str(vcpu), cpuset=cpuset)
    if config.numa is not None:
        numatune = _sub(domain, "numatune")
        _sub(numatune, "memory", mode=config.numa.mode.value, nodeset=config.numa.nodeset)
    if config.hugepages is False and not config.filesystems:
        return
    backing = _sub(domain, "memoryBacking")
    if config.hugepages is not False:
        pages = _sub(backing, "hugepages")
        if config.hugepages is not True:
            _sub(pages, "page", size=str(config.hugepages), unit="KiB")
    if config.filesystems:
        _sub(backing, "source", type=_SHARED_MEMORY[0])
        _sub(backing, "access", mode=_SHARED_MEMORY[1])


def _pci_hex(value: str, width: int) -> str:
    return f"0x{value.zfill(width)}"


def _tuning_devices(devices: ET.Element, config: DomainConfig) -> None:
    """The host devices and virtiofs shares."""
    for device in config.host_devices:
        hostdev = _sub(devices, "hostdev", mode="subsystem", type=device.kind, managed="yes")
        source = _sub(hostdev, "source")
        if device.kind == "pci":
            domain, bus, slot, function = device.pci_parts
            _sub(
                source,
                "address",
                domain=_pci_hex(domain, 4),
                bus=_pci_hex(bus, 2),
                slot=_pci_hex(slot, 2),
                function=f"0x{function}",
            )
        else:
            vendor, product = device.usb_ids
            _sub(source, "vendor", id=f"0x{vendor}")
            _sub(source, "product", id=f"0x{product}")
    for share in config.filesystems:
        element = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
        _sub(element, "driver", type="virtiofs")
        _sub(element, "source", dir=share.source)
        _sub(element, "target", dir=share.tag)
        if share.readonly:
            _sub(element, "readonly")


def _hex(text: str | None, width: int) -> str | None:
    """``0x3b`` (libvirt's spelling) as ``3b``, zero-padded to ``width``."""
    if text is None:
        return None
    try:
        return f"{int(text, 16):0{width}x}"
    except ValueError:
        return None


_USB_IDS = ("vendor", "product")


def _attribute(parent: ET.Element, path: str, name: str) -> str | None:
    element = parent.find(path)
    return element.get(name) if element is not None else None


def _host_device(hostdev: ET.Element) -> HostDevice | None:
    """A subsystem PCI or USB host device as :class:`HostDevice`, or None (another kind:
    SCSI, mdev, a USB device named by bus and address only)."""
    if hostdev.get("mode", "subsystem") != "subsystem":
        return None
    kind = hostdev.get("type")
    if kind == "pci":
        address = hostdev.find("source/address")
        if address is None:
            return None
        parts = [
            _hex(address.get(name), width)
            for name, width in (("domain", 4), ("bus", 2), ("slot", 2), ("function", 1))
        ]
        if any(part is None for part in parts):
            return None
        domain, bus, slot, function = parts
        return HostDevice("pci", f"{domain}:{bus}:{slot}.{function}")
    if kind == "usb":
        vendor, product = (_hex(_attribute(hostdev, f"source/{t}", "id"), 4) for t in _USB_IDS)
        if vendor is None or product is None:
            return None
        return HostDevice("usb", f"{vendor}:{product}")
    return None


def _virtiofs(filesystem: ET.Element) -> Filesystem | None:
    """A virtiofs share as :class:`Filesystem`, or None (9p, another driver)."""
    driver = filesystem.find("driver")
    if driver is None or driver.get("type") != "virtiofs":
        return None
    source, target = filesystem.find("source"), filesystem.find("target")
    return Filesystem(
        source.get("dir", "") if source is not None else "",
        target.get("dir", "") if target is not None else "",
        filesystem.find("readonly") is not None,
    )


def _tuning_device_key(device: ET.Element) -> tuple[str, ...] | None:
    """A host device by its address, a share by its tag; None for kinds not ours."""
    if device.tag == "hostdev":
        found = _host_device(device)
        return None if found is None else ("hostdev", found.kind, found.address)
    share = _virtiofs(device)
    return None if share is None else ("filesystem", share.tag)


def host_devices_of(text: str) -> tuple[HostDevice, ...]:
    """The PCI and USB host devices a domain's XML (any domain's) passes through."""
    devices = ET.fromstring(text).find("devices")
    found = (_host_device(h) for h in devices.findall("hostdev")) if devices is not None else ()
    return tuple(d for d in found if d is not None)


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _hugepages(backing: ET.Element | None) -> bool | int:
    pages = backing.find("hugepages") if backing is not None else None
    if pages is None:
        return False
    page = pages.find("page")
    if page is None or page.get("size") is None:
        return True
    factor = _UNIT_TO_KIB.get(page.get("unit", "KiB").lower(), 1)
    return int(int(page.get("size", "0")) * factor)


def _numa(numatune: ET.Element | None) -> Numa | None:
    memory = numatune.find("memory") if numatune is not None else None
    nodeset = memory.get("nodeset") if memory is not None else None
    if memory is None or nodeset is None:
        return None  # placement='auto' (numad): not an input of ours
    try:
        mode = NumaMode(memory.get("mode", NumaMode.STRICT.value))
    except ValueError:
        return None  # 'restrictive': not an input of ours
    return Numa(mode, format_cpu_set(parse_cpu_set(nodeset)))


def _with_tuning(config: DomainConfig, domain: ET.Element) -> DomainConfig:
    """``config`` with the tuning fields of a domain's XML."""
    devices = domain.find("devices")
    hostdevs = (_host_device(h) for h in devices.findall("hostdev")) if devices is not None else ()
    shares = (_virtiofs(f) for f in devices.findall("filesystem")) if devices is not None else ()
    pins = sorted(
        (int(pin.get("vcpu", "0")), format_cpu_set(parse_cpu_set(pin.get("cpuset", ""))))
        for pin in domain.iterfind("cputune/vcpupin")
    )
    return replace(
        config,
        host_devices=tuple(d for d in hostdevs if d is not None),
        filesystems=tuple(f for f in shares if f is not None),
        cpu_pinning=tuple(cpuset for _vcpu, cpuset in pins),
        numa=_numa(domain.find("numatune")),
        hugepages=_hugepages(domain.find("memoryBacking")),
        iothreads=_int_or_none(domain.findtext("iothreads")),
    )


def _keep_unmodelled_tuning(domain: ET.Element, live: ET.Element) -> None:
    """Into ``domain`` (a new definition), the children of the live ``<cputune>``,
    ``<numatune>`` and ``<memoryBacking>`` the package does not decide (see
    :data:`_TUNING_CHILDREN`)."""
    devices = domain.find("devices")
    assert devices is not None
    for tag, ours in _TUNING_CHILDREN.items():
        element = live.find(tag)
        kept = [c for c in element if c.tag not in ours] if element is not None else []
        if element is None or not kept:
            continue
        mine = domain.find(tag)
        if mine is None:
            mine = ET.Element(tag, element.attrib)
            domain.insert(list(domain).index(devices), mine)
        mine.extend(kept)


# --- the tuning and devices an operator sets (operations spec §4) ---

_SOURCE_ATTRIBUTE = {"direct": "dev"}
"""The ``<source>`` attribute naming a NIC's source, where it is not the NIC's type."""
_IOTUNE = (("iops", "total_iops_sec"), ("bytes_per_s", "total_bytes_sec"))
KEPT_UNLESS_GIVEN = ("graphics", "watchdog")
"""Device kinds the package writes only when their input is given; otherwise the
definition's own are kept as they are (a display added by hand, libvirt's implicit ones)."""


def _tune(disk: ET.Element, tune: DiskTune) -> None:
    driver = _driver(disk)
    for name in ("cache", "io"):
        value = getattr(tune, name)
        if value is not None:
            driver.set(name, value)
    limits = [(tag, getattr(tune, name)) for name, tag in _IOTUNE if getattr(tune, name)]
    if limits:
        iotune = _sub(disk, "iotune")
        for tag, value in limits:
            _sub(iotune, tag, str(value))


def _read_tune(disk: ET.Element) -> DiskTune:
    driver = disk.find("driver")
    limits = {name: disk.findtext(f"iotune/{tag}") for name, tag in _IOTUNE}
    return DiskTune(
        cache=driver.get("cache") if driver is not None else None,
        io=driver.get("io") if driver is not None else None,
        **{name: int(text) if text and int(text) else None for name, text in limits.items()},
    )


def _nic_extras(interface: ET.Element, source: ET.Element, nic: NicDevice) -> None:
    if nic.mode is not None:
        source.set("mode", nic.mode)
    if nic.vlan is not None:
        _sub(_sub(interface, "vlan"), "tag", id=str(nic.vlan))
    if nic.virtualport is not None:
        _sub(interface, "virtualport", type=nic.virtualport)
    if nic.inbound is not None or nic.outbound is not None:
        bandwidth = _sub(interface, "bandwidth")
        for tag in ("inbound", "outbound"):
            average = getattr(nic, tag)
            if average is not None:
                _sub(bandwidth, tag, average=str(average))


def _read_nic_extras(interface: ET.Element, source: ET.Element | None) -> dict[str, Any]:
    tag, port = interface.find("vlan/tag"), interface.find("virtualport")
    averages = {name: interface.find(f"bandwidth/{name}") for name in ("inbound", "outbound")}
    return {
        "mode": source.get("mode") if source is not None else None,
        "vlan": int(tag.get("id", "0")) if tag is not None else None,
        **{
            name: int(element.get("average", "0")) if element is not None else None
            for name, element in averages.items()
        },
        "virtualport": port.get("type") if port is not None else None,
    }


def _operator_devices(devices: ET.Element, config: DomainConfig) -> None:
    """The watchdog and the display, where the package decides them."""
    watchdog = config.watchdog
    if watchdog is not None and not watchdog.kept:
        _sub(devices, "watchdog", model=watchdog.model, action=watchdog.action)
    graphics = config.graphics
    if graphics is not None and not graphics.kept:
        element = _sub(devices, "graphics", type=graphics.type, autoport="yes")
        if graphics.password is not None:
            element.set("passwd", graphics.password)
        if graphics.listen is not None:
            element.set("listen", graphics.listen)
            _sub(element, "listen", type="address", address=graphics.listen)


def _read_graphics(element: ET.Element | None) -> GraphicsDevice | None:
    if element is None:
        return None
    listen = element.get("listen")
    if listen is None:
        address = element.find("listen[@type='address']")
        listen = address.get("address") if address is not None else None
    port = element.get("port")
    return GraphicsDevice(
        type=element.get("type", ""),
        listen=listen,
        port=int(port) if port and int(port) > 0 else None,
    )


def _read_operator_fields(
    devices: ET.Element | None, os_element: ET.Element | None
) -> dict[str, Any]:
    """The root's tuning, the RNG, watchdog, display and boot order of a definition."""
    root = (
        next((d for d in devices.findall("disk") if d.get("device", "disk") == "disk"), None)
        if devices is not None
        else None
    )
    watchdog = devices.find("watchdog") if devices is not None else None
    boot = os_element.findall("boot") if os_element is not None else []
    return {
        "root_tune": _read_tune(root) if root is not None else DiskTune(),
        "rng": devices is not None and devices.find("rng") is not None,
        "watchdog": (
            WatchdogDevice(watchdog.get("model", ""), watchdog.get("action", "reset"))
            if watchdog is not None
            else None
        ),
        "graphics": _read_graphics(devices.find("graphics") if devices is not None else None),
        "boot_order": tuple(b.get("dev", "") for b in boot),
    }
