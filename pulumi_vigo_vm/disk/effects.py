"""A VigoDisk's file on the host: what is there (reads), and the plan's step applied (the
only code that changes a data disk). Shares the claim/temporary/in-use core in
:mod:`pulumi_vigo_vm.hostfile` with VigoBaseImage."""

from __future__ import annotations

import logging
import posixpath

from ..errors import HostError
from ..hostfile.claim import FileOwner, file_owner
from ..hostfile.disk_refs import disk_refs
from ..hostfile.guestfile import QEMU_IMG_TIMEOUT, inspect, resize
from ..hostfile.held import refuse_held
from ..hostfile.imageformat import ImageInfo
from ..hostfile.ops import (
    install,
    read_claim,
    release,
    remove_ours,
    rename_claim,
    sweep_temporaries,
    take,
)
from ..hostfile.usage import host_usage, identities
from ..hosts.base import Host
from ..virt.target import Target
from .plan import DiskFacts, DiskPlan, Step, plan_converge
from .spec import DiskFormat, DiskSpec

__all__ = ["DISK_MODE", "IN_USE_FIX", "attached_to", "converge", "observe", "remove"]

log = logging.getLogger(__name__)

DISK_MODE = 0o600

IN_USE_FIX = "remove the disk from those VMs' data_disks (or remove the VMs) first, then run again"


def observe(target: Target, spec: DiskSpec) -> DiskFacts:
    """Whose the disk's path is and, when ours, its virtual size. Reads only."""
    assert spec.claim is not None
    host = target.host
    recorded = read_claim(host, spec.path)
    exists = host.stat(spec.path) is not None
    owner = file_owner(exists, recorded, spec.claim)
    image = _image(host, spec.path, spec.format) if owner is FileOwner.OURS else None
    if image is None:
        return DiskFacts(owner, recorded, None)
    return DiskFacts(owner, recorded, image.virtual_size, image.snapshots)


def _image(host: Host, path: str, fmt: DiskFormat) -> ImageInfo | None:
    """The disk's facts, or None when there is no file: its size as a guest sees it (a raw
    file's length, a qcow2's from its header: one small read, even while a guest holds it)
    and the internal snapshots it holds. A guest writes this file: it is refused
    (ImageError) unless it is what ``fmt`` declares, with no backing or data file
    (:func:`~pulumi_vigo_vm.hostfile.guestfile.inspect`)."""
    if host.stat(path) is None:
        return None
    return inspect(host, path, fmt.value, "VigoDisk")


def attached_to(target: Target, spec: DiskSpec) -> list[str]:
    """The domains on the host that reference the disk, as the run's listing last saw them."""
    return list(host_usage(target, about=(spec.path,)).domains_using(spec.path))


def converge(target: Target, spec: DiskSpec, previous_claim: str | None = None) -> DiskPlan:
    """Make the file match ``spec``: create it (empty, mode 0600, with our claim) where the
    path is free, adopt it where our claim names it, grow it in place when smaller (through
    the running domain that holds it, else qemu-img). Returns what was done.

    Raises NotOwnedError (someone else's file: left alone), ImageError (larger than
    declared), InUseError (held by several running domains), SnapshotError (a growth while
    snapshots live in it), HostError."""
    assert spec.claim is not None
    host = target.host
    host.makedirs(posixpath.dirname(spec.path))
    sweep_temporaries(host, spec.path)
    rename_claim(host, spec.path, previous_claim, spec.claim)
    facts = observe(target, spec)
    running: tuple[str, ...] = ()
    if facts.owner is FileOwner.OURS and (facts.virtual_size or 0) < spec.size_bytes:
        # Which qemu grows it is decided on a fresh listing: a guest may have started since.
        users = host_usage(target, fresh=True, about=(spec.path,)).users(spec.path)
        running = tuple(sorted({u.domain for u in users if u.active and u.direct}))
    plan = plan_converge(spec, facts, running)
    if plan.step in (Step.GROW_LIVE, Step.GROW_OFFLINE):
        refuse_held(target, spec.path, facts.snapshots, "VigoDisk", "grown")
    if plan.step is Step.CREATE:
        _create(host, spec, wrote_claim=facts.recorded_claim is None)
    elif plan.step is Step.GROW_LIVE:
        assert plan.through is not None
        _grow_live(target, spec, plan.through)
    elif plan.step is Step.GROW_OFFLINE:
        resize(host, spec.path, spec.format.value, spec.size_bytes, "VigoDisk")
    if plan.step is not None:
        log.info("%s: %s to %d GiB", spec.path, plan.step.value, spec.size_gib)
    return plan


def _create(host: Host, spec: DiskSpec, *, wrote_claim: bool) -> None:
    """Claim the path, then build the empty disk beside it and move it in (never over a
    file). A failure removes the claim this call wrote, so it leaves nothing behind, and
    only that: a file that appeared at the path meanwhile stays, and no longer looks ours."""
    assert spec.claim is not None
    if take(host, spec.path, spec.claim, "name") is FileOwner.OURS:
        return  # a run of this very resource made it meanwhile

    def build(temporary: str) -> None:
        argv = ["qemu-img", "create", "-q", "-f", spec.format.value, temporary]
        host.run([*argv, str(spec.size_bytes)], timeout=QEMU_IMG_TIMEOUT)

    try:
        install(host, spec.path, build, DISK_MODE)
    except BaseException:
        if wrote_claim:
            release(host, spec.path, spec.claim)
        raise


def _grow_live(target: Target, spec: DiskSpec, domain: str) -> None:
    """blockResize through ``domain``'s qemu, addressed by the device its live definition
    gives the file (by whatever spelling: the file, not the string, is matched)."""
    guest = target.hypervisor.lookup(domain)
    if guest is None:
        raise HostError(f"{spec.path}: domain {domain} vanished while growing the disk; run again")
    named = [(r.path, r.target) for r in disk_refs(guest.running_xml()) if r.path and r.target]
    files = identities(target.host, [spec.path, *(path for path, _ in named)])
    devices = [device for path, device in named if files[path] == files[spec.path]]
    if not devices:
        raise HostError(
            f"{spec.path}: the running domain {domain} no longer holds the disk; run again"
        )
    guest.block_resize(devices[0], spec.size_bytes)


def remove(target: Target, spec: DiskSpec) -> bool:
    """Remove the file and its sidecar if our claim names them. Refused (InUseError naming
    the domains) while any domain on the host references the file, on a fresh listing, and
    (SnapshotError naming them) while snapshots live in it.
    Returns whether a file was removed; someone else's file is left alone."""
    assert spec.claim is not None
    facts = observe(target, spec)
    if facts.owner is FileOwner.OURS:
        refuse_held(target, spec.path, facts.snapshots, "VigoDisk", "deleted")
    removed = remove_ours(target, spec.path, spec.claim, IN_USE_FIX)
    if not removed and target.host.stat(spec.path) is not None:
        log.warning("%s: not claimed by this resource; left alone", spec.path)
    return removed
