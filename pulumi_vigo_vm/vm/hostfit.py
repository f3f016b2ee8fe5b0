"""Whether a host can give a VM the hardware and tuning it asks for (operations spec §4):
the host devices exist and no other domain has them, the pinned CPUs and NUMA nodes exist,
enough huge pages are free, virtiofsd is installed. One :class:`InputFault` per input,
naming the host and the fix, told at preview before anything is defined.

The facts come in as a :class:`HostFit` (read by :mod:`pulumi_vigo_vm.vm.observe_tuning`).
Pure: no I/O.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..common.hostcaps import HostTopology
from ..errors import InputFault
from .spec import VmSpec
from .tuning import NumaMode, format_cpu_set, pages_needed, parse_cpu_set

__all__ = [
    "READONLY_VIRTIOFS_VERSION",
    "TUNING_INPUTS",
    "VHOST_USER_DIRS",
    "VIRTIOFSD_PACKAGE",
    "HostFit",
    "changed_tuning",
    "refuse_host_fit",
    "usb_ids",
    "virtiofsd_binary",
]

VIRTIOFSD_PACKAGE = "virtiofsd"
"""The Debian package of virtiofsd (since Debian 13; Debian 12's is in qemu-system-common)."""
VHOST_USER_DIRS = ("/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user")
"""Where libvirt looks for vhost-user backend descriptors (qemu's interop spec, the
``/etc`` one first), as it does to find virtiofsd: a descriptor of ``"type": "fs"``."""
READONLY_VIRTIOFS_VERSION = 11_000_000
"""The first libvirt that runs a virtiofs share ``<readonly/>`` (older ones refuse the
define: "virtiofs does not yet support read-only mode")."""

TUNING_INPUTS = ("host_devices", "filesystems", "cpu_pinning", "numa", "hugepages")
"""The inputs judged against the host (``iothreads`` needs nothing of it)."""


@dataclass(frozen=True)
class HostFit:
    """What one host has for a VM's hardware and tuning inputs (only what was asked)."""

    topology: HostTopology | None = None
    pci_present: Mapping[str, bool] = field(default_factory=dict)
    """PCI address -> the host has that node device."""
    usb_matches: Mapping[str, int] = field(default_factory=dict)
    """USB ``vendor:product`` -> how many of the host's USB devices carry it."""
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """A host device's address -> the other domains that pass it through."""
    page_kib: int | None = None
    """The huge page size asked about (None: no huge pages asked)."""
    free_pages: Mapping[int, int] = field(default_factory=dict)
    """NUMA node -> free pages of ``page_kib``."""
    virtiofsd: str | None = None
    """The virtiofsd binary a vhost-user descriptor names (None: none installed)."""
    library_version: int | None = None
    missing_sources: tuple[str, ...] = ()
    """The ``filesystems`` sources that are no directory on the host."""


def changed_tuning(spec: VmSpec, before: VmSpec | None) -> frozenset[str]:
    """The tuning inputs to judge against the host: those ``before`` (the recorded inputs)
    did not already have. A running VM holds its own huge pages and devices, so an
    unrelated update is never refused for them."""
    if before is None:
        return frozenset(n for n in TUNING_INPUTS if getattr(spec, n) not in ((), None, False))
    changed = {n for n in TUNING_INPUTS if getattr(spec, n) != getattr(before, n)}
    memory = (spec.memory_max_mib, spec.numa) != (before.memory_max_mib, before.numa)
    if spec.hugepages is not False and memory:
        changed.add("hugepages")
    return frozenset(n for n in changed if getattr(spec, n) not in ((), None, False))


def usb_ids(node_device_xml: str) -> str | None:
    """A USB node device's ``vendor:product`` as four hex digits each, or None."""
    capability = ET.fromstring(node_device_xml).find("capability")
    if capability is None:
        return None
    ids = [capability.find(tag) for tag in ("vendor", "product")]
    try:
        vendor, product = (int((e.get("id") or "") if e is not None else "", 16) for e in ids)
    except ValueError:
        return None
    return f"{vendor:04x}:{product:04x}"


def virtiofsd_binary(descriptors: Mapping[str, str]) -> str | None:
    """The binary the first vhost-user descriptor of ``"type": "fs"`` names, from
    ``descriptors`` (path -> JSON text, in libvirt's search order), or None."""
    for text in descriptors.values():
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict) and found.get("type") == "fs":
            binary = found.get("binary")
            if isinstance(binary, str) and binary:
                return binary
    return None


def refuse_host_fit(
    spec: VmSpec, fit: HostFit, judged: frozenset[str], host: str
) -> list[InputFault]:
    """One fault per input in ``judged`` the host cannot give ``spec``'s VM."""
    faults: list[InputFault] = []
    where = f"on {host} ({spec.uri})"
    if "host_devices" in judged:
        faults += _host_device_faults(spec, fit, where)
    if "filesystems" in judged:
        faults += _filesystem_faults(spec, fit, where)
    topology = fit.topology
    if topology is not None and "cpu_pinning" in judged:
        have = topology.cpus
        for index, cpuset in enumerate(spec.cpu_pinning):
            missing = parse_cpu_set(cpuset) - have
            if missing:
                faults.append(
                    InputFault(
                        "cpu_pinning",
                        f"[{index}] {cpuset!r} names CPU {format_cpu_set(missing)}, which "
                        f"{host} does not have (its CPUs: {format_cpu_set(have)}; virsh "
                        "capabilities, lscpu): pin to CPUs the host has",
                    )
                )
    if topology is not None and "numa" in judged and spec.numa is not None:
        missing = parse_cpu_set(spec.numa.nodeset) - topology.nodes
        if missing:
            faults.append(
                InputFault(
                    "numa",
                    f"nodeset {spec.numa.nodeset!r} names NUMA node "
                    f"{format_cpu_set(missing)}, which {host} does not have (its nodes: "
                    f"{format_cpu_set(topology.nodes)}; numactl -H): name nodes it has",
                )
            )
    if "hugepages" in judged:
        faults += _hugepage_faults(spec, fit, where)
    return faults


def _host_device_faults(spec: VmSpec, fit: HostFit, where: str) -> list[InputFault]:
    faults = []
    for index, device in enumerate(spec.host_devices):
        what = f"[{index}].{device.kind} {device.address}"
        if device.kind == "pci" and not fit.pci_present.get(device.address, False):
            reason = (
                f"{what}: no such PCI device {where} (virsh nodedev-list --cap pci shows "
                f"{device.node_name} when there is; lspci -D lists addresses): give an "
                "address the host has"
            )
        elif device.kind == "usb" and fit.usb_matches.get(device.address, 0) == 0:
            reason = (
                f"{what}: no USB device with that vendor:product {where} (lsusb; virsh "
                "nodedev-list --cap usb_device): plug it in, or give the ids lsusb shows"
            )
        elif device.kind == "usb" and fit.usb_matches[device.address] > 1:
            reason = (
                f"{what}: {fit.usb_matches[device.address]} USB devices carry these ids "
                f"{where}; libvirt cannot tell them apart by vendor:product and refuses to "
                "start: unplug the others"
            )
        elif fit.users.get(device.address):
            reason = (
                f"{what} is already passed through to {', '.join(fit.users[device.address])} "
                f"{where}; a device serves one guest: remove it there first"
            )
        else:
            continue
        faults.append(InputFault("host_devices", reason))
    return faults


def _filesystem_faults(spec: VmSpec, fit: HostFit, where: str) -> list[InputFault]:
    faults = []
    if fit.virtiofsd is None:
        faults.append(
            InputFault(
                "filesystems",
                f"virtiofs needs virtiofsd, and libvirt finds none {where} (no vhost-user "
                f"descriptor of type fs in {' or '.join(VHOST_USER_DIRS)}): install the "
                f"Debian package {VIRTIOFSD_PACKAGE} (apt-get install {VIRTIOFSD_PACKAGE}; "
                "on Debian 12 it comes with qemu-system-common)",
            )
        )
    for index, share in enumerate(spec.filesystems):
        if share.source in fit.missing_sources:
            faults.append(
                InputFault(
                    "filesystems",
                    f"[{index}].source {share.source} is no directory {where}: create it "
                    "there first (virtiofsd shares a directory)",
                )
            )
        version = fit.library_version
        if share.readonly and version is not None and version < READONLY_VIRTIOFS_VERSION:
            shown = f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}"
            faults.append(
                InputFault(
                    "filesystems",
                    f"[{index}].readonly: libvirt {shown} {where} cannot share a directory "
                    "read-only over virtiofs (libvirt 11.0 can): upgrade libvirt there, or "
                    "share it writable and mount it with -o ro in the guest (which a guest "
                    "can undo)",
                )
            )
    return faults


def _hugepage_faults(spec: VmSpec, fit: HostFit, where: str) -> list[InputFault]:
    size = fit.page_kib
    if size is None:
        return [
            InputFault(
                "hugepages",
                f"the host has no huge page size {where} (virsh capabilities lists none "
                "above the base page): give hugepages=false",
            )
        ]
    sizes = fit.topology.page_sizes_kib if fit.topology is not None else ()
    if sizes and size not in sizes:
        offered = ", ".join(str(s) for s in sizes[1:]) or "none"
        return [
            InputFault(
                "hugepages",
                f"{size} KiB is not a page size of the host {where} (huge page sizes: "
                f"{offered} KiB): give one of those",
            )
        ]
    nodes = set(fit.free_pages)
    if spec.numa is not None and spec.numa.mode is NumaMode.STRICT:
        nodes &= parse_cpu_set(spec.numa.nodeset)
    free = sum(fit.free_pages[node] for node in nodes)
    needed = pages_needed(spec.memory_max_mib, size)
    if free >= needed:
        return []
    sysfs = f"/sys/kernel/mm/hugepages/hugepages-{size}kB/nr_hugepages"
    return [
        InputFault(
            "hugepages",
            f"{spec.memory_max_mib} MiB of guest memory needs {needed} free {size} KiB "
            f"pages, and {free} are free {where} (virsh freepages): reserve more (echo N "
            f"> {sysfs}, or hugepages= on the kernel command line), or lower memory",
        )
    ]
