"""Which files a libvirt domain definition references as disks. Pure: XML in, values out.

"In use" (a VigoDisk's delete, a VigoBaseImage's update, a VM's data disk that another
domain already writes) is answered from these references; :mod:`pulumi_vigo_vm.hostfile.usage`
adds the I/O (listing the domains, resolving pool volumes, reading backing chains). A
definition is untrusted input as far as this module goes: anything it cannot read as a
disk with a local source (a network disk, an empty CD-ROM tray) is simply no reference.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["DiskRef", "disk_refs"]

_READ_ONLY_DEVICES = frozenset({"cdrom"})


@dataclass(frozen=True)
class DiskRef:
    """One ``<disk>`` of a definition with a local source: a file or block device
    (``path``, as written: only the host can say which file it names, since ``..`` after
    a symlink is resolved by the kernel, not by the string), or a storage pool volume
    (``pool``, ``volume``) the caller resolves."""

    path: str | None
    pool: str | None
    volume: str | None
    target: str | None
    """The guest-side device name (``vdb``): what ``blockResize`` addresses."""
    format: str | None
    """The ``<driver type=...>`` (``qcow2``, ``raw``), or None when the XML names none."""
    writable: bool
    """False for a CD-ROM and for ``<readonly/>`` or ``<shareable/>`` disks."""


def disk_refs(xml: str) -> tuple[DiskRef, ...]:
    """Every disk of the domain definition ``xml`` that names a local file, block device or
    pool volume, in document order. Raises ValueError when ``xml`` is not XML."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not a domain definition: {exc}") from exc
    refs = []
    for disk in root.iterfind("./devices/disk"):
        ref = _disk_ref(disk)
        if ref is not None:
            refs.append(ref)
    return tuple(refs)


def _disk_ref(disk: ET.Element) -> DiskRef | None:
    source = disk.find("source")
    if source is None:
        return None
    path = source.get("file") or source.get("dev")
    pool, volume = source.get("pool"), source.get("volume")
    if path is not None:
        if not path.startswith("/"):
            return None
        pool = volume = None
    elif not (pool and volume):
        return None  # a network disk, or a source we cannot place on this host
    target = disk.find("target")
    driver = disk.find("driver")
    writable = (
        disk.get("device", "disk") not in _READ_ONLY_DEVICES
        and disk.find("readonly") is None
        and disk.find("shareable") is None
    )
    return DiskRef(
        path=path,
        pool=pool,
        volume=volume,
        target=target.get("dev") if target is not None else None,
        format=driver.get("type") if driver is not None else None,
        writable=writable,
    )
