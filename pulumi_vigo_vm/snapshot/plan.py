"""What a VigoSnapshot covers, decided from the VM's definition, or why it cannot be taken.
Pure: the definition comes in as XML (see :mod:`.effects`).

An internal snapshot lives inside each qcow2 file it covers, so every writable disk must be
qcow2: qemu cannot keep a snapshot in a raw file, and a snapshot that left one writable disk
out would not restore the VM as it was. Read-only disks (the seed ISO, a ``readonly`` data
disk) cannot change, so they are left out. A running VM's memory state goes in too (qemu
pauses the guest while it writes it), and qemu cannot put a running EFI guest's UEFI
variable store (pflash) into such a snapshot: that one is taken while the VM is stopped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..errors import SnapshotError
from ..hostfile.disk_refs import disk_refs
from ..hostfile.snapshots import described
from .spec import SnapshotSpec

__all__ = ["SnapshotPlan", "plan_snapshot"]


@dataclass(frozen=True)
class SnapshotPlan:
    """The snapshot to ask libvirt for: its XML, and the disks (targets) it covers."""

    xml: str
    disks: tuple[str, ...]
    with_memory: bool


def plan_snapshot(spec: SnapshotSpec, domain_xml: str, *, running: bool) -> SnapshotPlan:
    """The snapshot of the VM whose definition is ``domain_xml`` (the live one when
    ``running``). Raises SnapshotError naming the reason and the fix when it cannot be
    taken; nothing has been touched then."""
    where = f"vm_name: {spec.vm_name} on {spec.uri}"
    if running and _pflash(domain_xml):
        raise SnapshotError(
            f"{where} is a running EFI guest: qemu cannot snapshot its UEFI variable store "
            '(pflash) with the memory state; stop the VM (state="stopped") and snapshot it '
            "offline"
        )
    covered, raw = [], []
    for ref in disk_refs(domain_xml):
        if not ref.writable or ref.target is None:
            continue
        if ref.format != "qcow2":
            raw.append(f"{ref.target} ({ref.path or ref.volume}, {ref.format or 'raw'})")
            continue
        covered.append(ref.target)
    if raw:
        raise SnapshotError(
            f"{where} has writable disks that are not qcow2: {', '.join(raw)}; an internal "
            "snapshot lives inside each disk's file and qemu cannot keep one in a raw file. "
            "Make those disks qcow2, or attach them readonly, to snapshot this VM"
        )
    if not covered:
        raise SnapshotError(f"{where} has no writable disk to snapshot")
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = spec.snapshot_name
    ET.SubElement(root, "description").text = described(spec.description, spec.claim)
    ET.SubElement(root, "memory", snapshot="internal" if running else "no")
    disks = ET.SubElement(root, "disks")
    for target in covered:
        ET.SubElement(disks, "disk", name=target, snapshot="internal")
    for ref in disk_refs(domain_xml):
        if ref.target is not None and ref.target not in covered:
            ET.SubElement(disks, "disk", name=ref.target, snapshot="no")
    return SnapshotPlan(ET.tostring(root, encoding="unicode"), tuple(covered), running)


def _pflash(domain_xml: str) -> bool:
    """The definition boots UEFI from pflash (a per-VM NVRAM qemu writes)."""
    os_element = ET.fromstring(domain_xml).find("os")
    if os_element is None:
        return False
    loader = os_element.find("loader")
    return (
        (loader is not None and loader.get("type") == "pflash")
        or os_element.find("nvram") is not None
        or os_element.get("firmware") == "efi"
    )
