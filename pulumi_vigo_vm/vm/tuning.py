"""The hardware and tuning an operator sets on a VM (operations spec §4): host devices
passed through, virtiofs shares, vCPU pinning, the NUMA memory policy, hugepages and I/O
threads. Their grammar, normalised values and validators. Pure: no I/O.

Each validator takes the loosely typed value the engine hands over and returns the
normalised value (idempotent on it), or raises ``ValueError(reason)`` naming the entry and
the fix. Host facts (does the device exist, are the CPUs there) are judged at preview by
:mod:`pulumi_vigo_vm.vm.hostfit`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..common.inputs import absolute_path, one_of
from ..common.numbers import shown, whole_number

__all__ = [
    "MAX_CPU_ID",
    "MAX_FILESYSTEMS",
    "MAX_HOST_DEVICES",
    "MAX_IOTHREADS",
    "Filesystem",
    "HostDevice",
    "Numa",
    "NumaMode",
    "cpu_pinning",
    "cpu_set",
    "filesystems",
    "format_cpu_set",
    "host_devices",
    "hugepages",
    "iothread",
    "iothreads",
    "numa",
    "pages_needed",
    "parse_cpu_set",
]

MAX_HOST_DEVICES = 32
"""More than a q35 root complex's free slots: a typo, not a machine."""
MAX_FILESYSTEMS = 16
MAX_IOTHREADS = 64
MAX_CPU_ID = 8191
"""libvirt's cpuset bitmap ceiling (``VIR_DOMAIN_CPUMASK_LEN`` is 8192 bits)."""
MAX_HUGEPAGE_KIB = 16 * 1024 * 1024
"""16 GiB: the largest huge page any Linux arch has (ppc64's)."""
MIN_HUGEPAGE_KIB = 64

_PCI = re.compile(r"(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])")
_USB = re.compile(r"([0-9a-f]{4}):([0-9a-f]{4})")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,35}")
"""A virtiofs mount tag: the guest's ``mount -t virtiofs <tag>`` (qemu allows 36 bytes)."""
_CPU_SET = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")


@dataclass(frozen=True)
class HostDevice:
    """A host PCI function (``0000:3b:00.0``) or USB device (``vendor:product``), both as
    lower-case hex, passed through with ``managed='yes'`` (libvirt detaches it from its
    host driver at start and gives it back at stop)."""

    kind: str  # "pci" | "usb"
    address: str

    @property
    def node_name(self) -> str:
        """libvirt's node-device name of a PCI function (``pci_0000_3b_00_0``)."""
        return "pci_" + re.sub(r"[:.]", "_", self.address)

    @property
    def pci_parts(self) -> tuple[str, str, str, str]:
        """(domain, bus, slot, function) as hex digits."""
        domain, bus, rest = self.address.split(":")
        slot, function = rest.split(".")
        return domain, bus, slot, function

    @property
    def usb_ids(self) -> tuple[str, str]:
        """(vendor, product) as four hex digits each."""
        vendor, product = self.address.split(":")
        return vendor, product

    def to_input(self) -> dict[str, Any]:
        return {self.kind: self.address}


@dataclass(frozen=True)
class Filesystem:
    """A host directory shared into the guest over virtiofs under a mount tag."""

    source: str
    tag: str
    readonly: bool = False

    def to_input(self) -> dict[str, Any]:
        return {"source": self.source, "tag": self.tag, "readonly": self.readonly}


class NumaMode(StrEnum):
    STRICT = "strict"
    PREFERRED = "preferred"
    INTERLEAVE = "interleave"


@dataclass(frozen=True)
class Numa:
    """The guest memory's NUMA policy on the host: ``<numatune><memory>``."""

    mode: NumaMode
    nodeset: str
    """Host NUMA node ids, as libvirt writes a set (``0-1``, ``0,2``)."""

    def to_input(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "nodeset": self.nodeset}


def _list(value: Any, what: str, limit: int) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValueError(f"must be a list of {what}, got {type(value).__name__}")
    items = list(value)
    if len(items) > limit:
        raise ValueError(f"holds {len(items)} entries; at most {limit} are supported")
    return items


def _mapping(entry: Any, index: int, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"[{index}] must be a mapping ({what}), got {type(entry).__name__}")
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        raise ValueError(
            f"[{index}] has unknown keys {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(allowed)}"
        )
    return {k: v for k, v in entry.items() if v is not None and v != ""}


def _pci(value: Any, where: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    found = _PCI.fullmatch(text) if text is not None else None
    if found is None or int(found.group(3), 16) > 0x1F:
        raise ValueError(
            f"{where} must be a PCI address domain:bus:slot.function like 0000:3b:00.0 "
            f"(lspci -D shows them), got {shown(value)}"
        )
    domain, bus, slot, function = found.groups()
    return f"{domain or '0000'}:{bus}:{slot}.{function}"


def _usb(value: Any, where: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not _USB.fullmatch(text) or text.startswith("0000:"):
        raise ValueError(
            f"{where} must be a USB vendor:product id pair like 046d:c52b (lsusb shows "
            f"them), got {shown(value)}"
        )
    return text


def host_devices(value: Any) -> tuple[HostDevice, ...]:
    """``host_devices``: a list of ``{"pci": "0000:3b:00.0"}`` or ``{"usb": "046d:c52b"}``."""
    result: list[HostDevice] = []
    for index, raw in enumerate(_list(value, "{'pci': ...} or {'usb': ...}", MAX_HOST_DEVICES)):
        entry = _mapping(raw, index, ("pci", "usb"), "{'pci': ...} or {'usb': ...}")
        if len(entry) != 1:
            raise ValueError(
                f"[{index}] needs exactly one of pci (an address, 0000:3b:00.0) and usb "
                "(vendor:product, 046d:c52b)"
            )
        kind, given = next(iter(entry.items()))
        check = _pci if kind == "pci" else _usb
        device = HostDevice(kind, check(given, f"[{index}].{kind}"))
        if device in result:
            raise ValueError(
                f"[{index}].{kind} {device.address} appears twice; pass a device through once"
            )
        result.append(device)
    return tuple(result)


def filesystems(value: Any) -> tuple[Filesystem, ...]:
    """``filesystems``: a list of ``{"source": host dir, "tag": tag, "readonly": bool}``."""
    result: list[Filesystem] = []
    what = "{'source': ..., 'tag': ...}"
    for index, raw in enumerate(_list(value, what, MAX_FILESYSTEMS)):
        entry = _mapping(raw, index, ("source", "tag", "readonly"), what)
        for key in ("source", "tag"):
            if key not in entry:
                raise ValueError(
                    f"[{index}] needs a {key} (source: a host directory; tag: the name the "
                    "guest mounts, mount -t virtiofs <tag> /mnt)"
                )
        try:
            source = absolute_path(entry["source"], "a host directory")
        except ValueError as exc:
            raise ValueError(f"[{index}].source {exc}") from None
        source = posixpath.normpath(source)
        if source == "/":
            raise ValueError(f"[{index}].source / would share the whole host: name a directory")
        tag = entry["tag"]
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            raise ValueError(
                f"[{index}].tag must be 1-36 characters from A-Z a-z 0-9 . _ -, starting with "
                f"a letter or digit, got {shown(tag)}"
            )
        readonly = entry.get("readonly", False)
        if not isinstance(readonly, bool):
            raise ValueError(f"[{index}].readonly must be true or false, got {shown(readonly)}")
        result.append(Filesystem(source, tag, readonly))
    tags = [f.tag for f in result]
    for tag in tags:
        if tags.count(tag) > 1:
            raise ValueError(f"tag {tag!r} appears twice; give each share its own tag")
    return tuple(result)


def parse_cpu_set(text: str) -> frozenset[int]:
    """The ids a set like ``0-3,8`` names; ValueError for any other text."""
    compact = text.replace(" ", "")
    if not _CPU_SET.fullmatch(compact):
        raise ValueError("is not a set of ids like 0, 2-3 or 0,4")
    ids: set[int] = set()
    for part in compact.split(","):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if last < first:
            raise ValueError(f"has the range {part} running backwards")
        if last > MAX_CPU_ID:
            raise ValueError(f"names {last}, beyond libvirt's {MAX_CPU_ID}")
        ids.update(range(first, last + 1))
    return frozenset(ids)


def format_cpu_set(ids: Iterable[int]) -> str:
    """A set of ids as libvirt writes it (``virBitmapFormat``): runs as ``a-b``, joined by
    commas, so a set read back from libvirt compares equal as text."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start], ordered[end]
        parts.append(str(first) if first == last else f"{first}-{last}")
        start = end + 1
    return ",".join(parts)


def cpu_set(value: Any, where: str) -> str:
    """One host CPU (or NUMA node) set, normalised as libvirt writes it."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, float) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a set like '0', '2-3' or '0,4', got {shown(value)}")
    try:
        return format_cpu_set(parse_cpu_set(value))
    except ValueError as exc:
        raise ValueError(f"{where} {shown(value)} {exc}") from None


def cpu_pinning(value: Any) -> tuple[str, ...]:
    """``cpu_pinning``: one host CPU set per vCPU, in vCPU order (empty: none)."""
    items = _list(value, "host CPU sets, one per vCPU ('0', '2-3', '0,4')", MAX_CPU_ID + 1)
    return tuple(cpu_set(item, f"[{index}]") for index, item in enumerate(items))


def numa(value: Any) -> Numa:
    """``numa``: ``{"mode": "strict"|"preferred"|"interleave", "nodeset": "0-1"}``."""
    what = "{'mode': ..., 'nodeset': ...}"
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a mapping {what}, got {type(value).__name__}")
    entry = _mapping(value, 0, ("mode", "nodeset"), what)
    if "nodeset" not in entry:
        raise ValueError("needs a nodeset: the host NUMA nodes, e.g. '0' or '0-1' (numactl -H)")
    try:
        mode: NumaMode = one_of(entry.get("mode", NumaMode.STRICT.value), NumaMode)
    except ValueError as exc:
        raise ValueError(f".mode {exc}") from None
    nodeset = cpu_set(entry["nodeset"], ".nodeset")
    if mode is NumaMode.PREFERRED and len(parse_cpu_set(nodeset)) > 1:
        raise ValueError(
            f".nodeset {nodeset!r}: mode 'preferred' takes one node (libvirt's rule); use "
            "'strict' or 'interleave' for several"
        )
    return Numa(mode, nodeset)


def hugepages(value: Any) -> bool | int:
    """``hugepages``: true (the host's default huge page size), false, or a page size in
    KiB (2048, 1048576: a power of two)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    try:
        size = whole_number(value, MIN_HUGEPAGE_KIB, MAX_HUGEPAGE_KIB, " KiB")
    except ValueError as exc:
        raise ValueError(
            f"must be true, false or a huge page size in KiB (2048 or 1048576 on x86): {exc}"
        ) from None
    if size & (size - 1):
        raise ValueError(f"{size} KiB is no page size: give a power of two, e.g. 2048 or 1048576")
    return size


def pages_needed(memory_mib: int, page_kib: int) -> int:
    """How many pages of ``page_kib`` back ``memory_mib`` of guest memory (rounded up: qemu
    rounds the guest's RAM up to whole pages)."""
    return -(-memory_mib * 1024 // page_kib)


def iothreads(value: Any) -> int:
    """``iothreads``: how many I/O threads the domain has (``<iothreads>``)."""
    return whole_number(value, 1, MAX_IOTHREADS)


def iothread(value: Any) -> int:
    """A data disk's ``iothread``: 1-based, at most ``iothreads`` (checked with it)."""
    return whole_number(value, 1, MAX_IOTHREADS)
