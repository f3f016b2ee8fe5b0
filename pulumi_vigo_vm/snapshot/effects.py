"""A VigoSnapshot on its VM: what is there (reads), taken, re-described, deleted. The only
code that changes a snapshot; every libvirt call goes through
:class:`~pulumi_vigo_vm.virt.hypervisor.Guest`."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from ..common.claimtext import conflict_hint
from ..errors import CommandError, HostError, NotOwnedError
from ..hostfile.disk_refs import disk_refs
from ..hostfile.guestfile import delete_internal_snapshot, inspect
from ..hostfile.snapshots import SnapshotFacts, described, parse_snapshot
from ..virt.hypervisor import Guest
from ..virt.target import Target
from .plan import plan_snapshot
from .spec import SnapshotSpec

__all__ = ["observe", "redescribe", "remove", "take"]

log = logging.getLogger(__name__)


def observe(target: Target, spec: SnapshotSpec) -> SnapshotFacts | None:
    """The snapshot of that name when it is ours (our claim ends its description); None
    when the VM or the snapshot is gone, or the snapshot is someone else's. Reads only."""
    guest = target.hypervisor.lookup(spec.vm_name)
    found = guest.snapshot(spec.snapshot_name) if guest is not None else None
    if found is None:
        return None
    facts = parse_snapshot(found.xml)
    return facts if facts.claim == spec.claim else None


def take(target: Target, spec: SnapshotSpec) -> SnapshotFacts:
    """Take the snapshot: every writable disk's internal snapshot, with the memory state
    when the VM runs (offline when it does not). Ours already there (a create interrupted
    after libvirt took it) is adopted. Refused before anything is made: no such VM
    (HostError), the name taken by another snapshot (NotOwnedError), a VM that cannot be
    snapshotted (SnapshotError: a raw writable disk, a running EFI guest)."""
    guest = target.hypervisor.lookup(spec.vm_name)
    if guest is None:
        raise HostError(
            f"vm_name: no domain {spec.vm_name!r} on {spec.uri}: pass the VM's vm_name "
            "Output (vm.vm_name) so the snapshot is taken after the VM exists"
        )
    existing = guest.snapshot(spec.snapshot_name)
    if existing is not None:
        facts = parse_snapshot(existing.xml)
        if facts.claim == spec.claim:
            return facts
        owner = facts.claim or "a snapshot not made by pulumi_vigo_vm"
        raise NotOwnedError(
            f"snapshot_name: {spec.vm_name} on {spec.uri} already has a snapshot named "
            f"{spec.snapshot_name!r} ({owner}){conflict_hint(facts.claim, spec.claim)}; it "
            "is left alone: choose another snapshot_name"
        )
    running = guest.power_state().is_active
    xml = guest.running_xml() if running else guest.xml()
    plan = plan_snapshot(spec, xml, running=running)
    log.info(
        "%s: taking snapshot %s of %s%s",
        spec.vm_name,
        spec.snapshot_name,
        ", ".join(plan.disks),
        " with its memory state" if plan.with_memory else " (offline)",
    )
    guest.create_snapshot(plan.xml)
    return _facts(guest, spec)


def redescribe(target: Target, spec: SnapshotSpec) -> SnapshotFacts:
    """Rewrite our snapshot's description (libvirt redefines its metadata; the disks are not
    touched). Raises HostError when it is gone or no longer ours."""
    guest = target.hypervisor.lookup(spec.vm_name)
    found = guest.snapshot(spec.snapshot_name) if guest is not None else None
    if guest is None or found is None or parse_snapshot(found.xml).claim != spec.claim:
        raise HostError(
            f"{spec.id} on {spec.uri} is gone or no longer ours: run `pulumi refresh`, then "
            "up again to take it anew"
        )
    root = ET.fromstring(found.xml)
    element = root.find("description")
    if element is None:
        element = ET.SubElement(root, "description")
    element.text = described(spec.description, spec.claim)
    guest.redefine_snapshot(ET.tostring(root, encoding="unicode"))
    return _facts(guest, spec)


def remove(target: Target, spec: SnapshotSpec) -> bool:
    """Delete the snapshot when our claim is in its description (its internal snapshots go
    from the disks too; the space stays in the files until qemu reuses it). A snapshot or VM
    already gone is not an error; someone else's snapshot of that name is left alone.
    Returns whether one was deleted."""
    guest = target.hypervisor.lookup(spec.vm_name)
    found = guest.snapshot(spec.snapshot_name) if guest is not None else None
    if guest is None or found is None:
        log.info("%s: already gone", spec.id)
        return False
    facts = parse_snapshot(found.xml)
    if facts.claim != spec.claim:
        log.warning("%s: not claimed by this resource; left alone", spec.id)
        return False
    deleted = guest.delete_snapshot(spec.snapshot_name)
    _delete_left_in_dropped_disks(target, guest, spec, facts)
    return deleted


def _delete_left_in_dropped_disks(
    target: Target, guest: Guest, spec: SnapshotSpec, facts: SnapshotFacts
) -> None:
    """libvirt deletes a snapshot's internal snapshots only from the disks the domain has
    now: a data disk the VM dropped since keeps its part of the snapshot, which would then
    block that disk's delete and growth. Ours, by the snapshot's name, is deleted from it
    here (a file gone, or without it, is left as it is)."""
    current = {ref.path for ref in disk_refs(guest.xml())}
    for path in facts.disks:
        if path in current or target.host.stat(path) is None:
            continue
        if not inspect(target.host, path, "qcow2", "VigoSnapshot").snapshots:
            continue
        log.info("%s: deleting its internal snapshot from %s, dropped by the VM", spec.id, path)
        try:
            delete_internal_snapshot(target.host, path, spec.snapshot_name, "VigoSnapshot")
        except CommandError as exc:
            log.warning("%s: %s still holds its internal snapshot: %s", spec.id, path, exc)


def _facts(guest: Guest, spec: SnapshotSpec) -> SnapshotFacts:
    found = guest.snapshot(spec.snapshot_name)
    if found is None:
        raise HostError(f"{spec.id} on {spec.uri} vanished right after it was taken; run again")
    return parse_snapshot(found.xml)
