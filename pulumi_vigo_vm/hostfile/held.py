"""A disk file that holds internal snapshots is never grown nor deleted (operations spec §5):
the one rule for a VigoDisk and a VM's root disk.

An internal snapshot lives inside the qcow2 file. A delete would take it with the file, and
qcow2 internal snapshots and a resize do not mix: qemu grows such a file without a word, and
a revert then brings the old size back under a grown filesystem. The count comes from the
file's header (read before, by the caller); the snapshots are named from libvirt, whose
snapshot XML records the files each one covers.
"""

from __future__ import annotations

from ..errors import SnapshotError
from ..virt.target import Target
from .snapshots import parse_snapshot

__all__ = ["refuse_held", "snapshots_including"]


def refuse_held(target: Target, path: str, snapshots: int, what: str, act: str) -> None:
    """Refuse (SnapshotError, starting with ``what``: the resource or input asking) to
    ``act`` (``grown``, ``deleted``) the file ``path`` while its header says it holds
    ``snapshots`` internal snapshots, naming the VM snapshots that include it and the fix.
    Nothing has been changed when it raises."""
    if not snapshots:
        return
    names = snapshots_including(target, path)
    held = ", ".join(names) if names else "none libvirt knows of (qemu-img snapshot -l)"
    raise SnapshotError(
        f"{what}: {path} holds {snapshots} internal snapshot(s) (VM snapshots including it: "
        f"{held}); a disk is never {act} while one lives in its file (qcow2 internal "
        "snapshots and a resize do not mix). Delete those snapshots first (remove their "
        "VigoSnapshot, or virsh snapshot-delete <vm> <name>), in an up of their own: the "
        "engine deletes a removed resource after its other changes. Then run again"
    )


def snapshots_including(target: Target, path: str) -> list[str]:
    """``<domain>/<snapshot>`` of every snapshot on the host that covers the file ``path``
    (asked only when its header says it holds some: one listing per domain)."""
    found = []
    for definition in target.hypervisor.domain_definitions():
        guest = target.hypervisor.lookup(definition.name)
        for snapshot in guest.snapshots() if guest is not None else ():
            if path in parse_snapshot(snapshot.xml).disks:
                found.append(f"{definition.name}/{snapshot.name}")
    return sorted(found)
