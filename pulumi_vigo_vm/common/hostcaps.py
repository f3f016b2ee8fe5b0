"""What a host can run: its architecture, the arches its qemu emulates, and per machine the
firmware, TPM and CPU modes libvirt offers.

The facts come from libvirt's ``capabilities`` and ``domcapabilities`` XML (read by
:mod:`pulumi_vigo_vm.virt.capabilities`), parsed here with ElementTree. Pure: no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = [
    "DomainCaps",
    "HostCpu",
    "HostIdentity",
    "HostPlatform",
    "HostTopology",
    "parse_domain_caps",
    "parse_guest_arches",
    "parse_host_arch",
    "parse_host_identity",
    "parse_host_topology",
]


@dataclass(frozen=True)
class DomainCaps:
    """What libvirt offers for one (arch, machine, domain type): ``domcapabilities``."""

    efi: bool
    """UEFI firmware auto-selection has a descriptor (``<enum name='firmware'>`` holds efi)."""
    secure_boot: bool
    """A Secure Boot loader is installed (``<loader><enum name='secure'>`` holds yes)."""
    tpm_emulator: bool
    """libvirt found swtpm (``<tpm><enum name='backendModel'>`` holds emulator)."""
    cpu_modes: frozenset[str]
    """The ``<cpu><mode supported='yes'>`` names."""


@dataclass(frozen=True)
class HostPlatform:
    """One host's answer for one VM: the host's arch, the VM's, and what runs it."""

    host_arch: str
    arch: str
    emulated: bool
    """The host's qemu runs ``arch`` under the VM's domain type."""
    caps: DomainCaps | None
    """None when ``arch`` is not emulated (libvirt has no domcapabilities for it)."""


def parse_host_arch(capabilities: str) -> str:
    """The host CPU's architecture (``<host><cpu><arch>``)."""
    return ET.fromstring(capabilities).findtext("host/cpu/arch", "").strip()


def parse_guest_arches(capabilities: str, domain_type: str) -> frozenset[str]:
    """The guest arches the host runs under ``domain_type`` (``kvm`` only for its own arch,
    with a usable /dev/kvm; ``qemu`` for every qemu-system binary installed)."""
    root = ET.fromstring(capabilities)
    return frozenset(
        arch.get("name", "")
        for arch in root.iterfind("guest/arch")
        if any(d.get("type") == domain_type for d in arch.iterfind("domain"))
    )


def _enum(element: ET.Element | None, name: str) -> frozenset[str]:
    if element is None:
        return frozenset()
    for enum in element.iterfind("enum"):
        if enum.get("name") == name:
            return frozenset((v.text or "").strip() for v in enum.iterfind("value"))
    return frozenset()


def parse_domain_caps(domcapabilities: str) -> DomainCaps:
    """Firmware, TPM and CPU modes from one ``domcapabilities`` document."""
    root = ET.fromstring(domcapabilities)
    os_element, tpm = root.find("os"), root.find("devices/tpm")
    tpm_supported = tpm is not None and tpm.get("supported") == "yes"
    return DomainCaps(
        efi="efi" in _enum(os_element, "firmware"),
        secure_boot="yes" in _enum(root.find("os/loader"), "secure"),
        tpm_emulator=tpm_supported and "emulator" in _enum(tpm, "backendModel"),
        cpu_modes=frozenset(
            mode.get("name", "")
            for mode in root.iterfind("cpu/mode")
            if mode.get("supported") == "yes"
        ),
    )


# --- The host's CPUs, NUMA nodes and page sizes (operations spec §4) ---------------------


@dataclass(frozen=True)
class HostTopology:
    """The host's CPUs and NUMA nodes, and the memory page sizes its CPU offers, from
    libvirt's ``capabilities`` (``<host><topology>`` and ``<host><cpu><pages>``)."""

    cpus: frozenset[int]
    nodes: frozenset[int]
    page_sizes_kib: tuple[int, ...]
    """Every page size, smallest (the base page) first."""

    @property
    def default_hugepage_kib(self) -> int | None:
        """The huge page size ``<hugepages/>`` without a size gets: the smallest above the
        base page (2048 KiB on x86, unless the host boots with ``default_hugepagesz=``)."""
        huge = self.page_sizes_kib[1:]
        return huge[0] if huge else None


def parse_host_topology(capabilities: str) -> HostTopology:
    """The host's topology; a host that reports no ``<topology>`` has one node (0)."""
    host = ET.fromstring(capabilities).find("host")
    cells = host.findall("topology/cells/cell") if host is not None else []
    cpus = {int(c.get("id", "0")) for cell in cells for c in cell.iterfind("cpus/cpu")}
    nodes = {int(cell.get("id", "0")) for cell in cells} or {0}
    sizes = sorted(
        {
            int(page.get("size", "0"))
            for page in (host.iterfind("cpu/pages") if host is not None else ())
            if page.get("unit", "KiB") == "KiB"
        }
    )
    return HostTopology(frozenset(cpus), frozenset(nodes), tuple(sizes))


@dataclass(frozen=True)
class HostCpu:
    """The host CPU as libvirt names it (``<host><cpu>``): what a ``host-passthrough`` guest
    sees, so two hosts run one such guest alike only when these are equal."""

    arch: str
    vendor: str
    model: str
    features: frozenset[str]

    def differences(self, other: HostCpu) -> tuple[str, ...]:
        """What ``other`` lacks or has unlike this CPU, in words (empty: alike)."""
        said = [
            f"{name} {mine} vs {theirs}"
            for name, mine, theirs in (
                ("arch", self.arch, other.arch),
                ("vendor", self.vendor, other.vendor),
                ("model", self.model, other.model),
            )
            if mine != theirs
        ]
        missing, extra = self.features - other.features, other.features - self.features
        if missing:
            said.append("features missing there: " + ", ".join(sorted(missing)))
        if extra:
            said.append("features only there: " + ", ".join(sorted(extra)))
        return tuple(said)


@dataclass(frozen=True)
class HostIdentity:
    """Which machine a libvirt URI reaches (``<host><uuid>``: two URIs naming one host
    answer the same) and its CPU."""

    uuid: str
    cpu: HostCpu


def parse_host_identity(capabilities: str) -> HostIdentity:
    """The host's UUID and CPU from its ``capabilities`` document."""
    host = ET.fromstring(capabilities).find("host")
    if host is None:
        return HostIdentity("", HostCpu("", "", "", frozenset()))
    cpu = HostCpu(
        arch=host.findtext("cpu/arch", "").strip(),
        vendor=host.findtext("cpu/vendor", "").strip(),
        model=host.findtext("cpu/model", "").strip(),
        features=frozenset(f.get("name", "") for f in host.iterfind("cpu/feature")),
    )
    return HostIdentity(host.findtext("uuid", "").strip(), cpu)
