"""A VM moved to another host (``on_host_change="migrate"``): both hosts looked at, then the
VM moved live or cold, or a move cut off finished. The only VigoVm code that acts on two
hosts.

Nothing is lost on failure. The source keeps its domain and files until the target's domain
is there (defined, and running when the VM ran); only then does the caller remove the
source's copy (``remove_source``: the VM's own removal, which proves each file ours on the
source). What a failed move made on the target is removed: the files this very run created
there, each claimed first by a sidecar naming the VM's claim (:func:`hostfile.ops.take`),
and a domain of the VM's UUID left inactive there. A file of ours that an earlier failed
run could not remove (its host went away) is recognised by that sidecar, and by no domain
using it, at the next try. The decisions are :mod:`.move_plan`'s (pure).
"""

from __future__ import annotations

import contextlib
import posixpath
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..common.hostcaps import HostIdentity, parse_host_identity
from ..common.progress import Progress
from ..errors import HostUnreachableError, LibvirtCallError, MoveError, VigoError
from ..hostfile.claim import claim_path
from ..hostfile.digest import file_sha256
from ..hostfile.images import create_blank, create_overlay, overlay_info, usable_base
from ..hostfile.ops import install, read_claim, release, remove_ours, take
from ..hostfile.usage import host_usage
from ..hosts.base import Host
from ..virt.hypervisor import Guest
from ..virt.target import Target
from .domain_xml import LiveDomain, from_xml
from .model import Recorded
from .move_plan import MoveFacts, MovePlan, OwnFile, Way, own_paths, plan_move
from .observe import observe_data_disks, observe_domain, observe_platform
from .ownership import DomainOwner, owner_of
from .spec import VmSpec

__all__ = ["MIGRATE_TIMEOUT_S", "check_move", "move"]

MIGRATE_TIMEOUT_S = 3600.0
"""Seconds a live migration may run before it is cancelled (the VM runs on at the source):
a guest that dirties memory faster than the link carries it never converges (libvirt's
auto-converge throttles its vCPUs first)."""
_POLL_S = 1.0
_FILE_MODE = 0o600


def _identity(target: Target, uri: str, role: str, fix: str) -> HostIdentity:
    try:
        return parse_host_identity(target.hypervisor.capabilities_xml())
    except (HostUnreachableError, LibvirtCallError) as exc:
        raise MoveError(f"uri: {role} {uri} cannot be reached ({exc}): {fix}") from exc


def _free_bytes(host: Host, directory: str) -> int | None:
    """Free bytes where files made in ``directory`` land (its nearest existing ancestor:
    the move makes it); None when ``df`` does not tell."""
    while host.stat(directory) is None and directory not in ("/", ""):
        directory = posixpath.dirname(directory)
    result = host.run(["df", "-B1", "--output=avail", directory], check=False)
    lines = result.stdout.split()
    return int(lines[-1]) if result.returncode == 0 and lines and lines[-1].isdigit() else None


def _digest(host: Host, path: str) -> str | None:
    return file_sha256(host, path) if host.stat(path) is not None else None


def _source_domain(source: Target, recorded: Recorded) -> tuple[Guest | None, LiveDomain | None]:
    """Our domain on the source and its handle; (None, None) when it holds none of ours."""
    guest, seen = observe_domain(source, recorded.spec)
    if owner_of(seen, recorded.spec, recorded) is not DomainOwner.OURS:
        return None, None
    return guest, seen.domain


def look(source: Target, target: Target, spec: VmSpec, recorded: Recorded) -> MoveFacts:
    """What both hosts report for moving ``recorded``'s VM to ``spec.uri``. Reads only."""
    old = recorded.spec.uri
    target_id = _identity(
        target, spec.uri, "the target host", f"make it reachable, or keep uri={old!r}"
    )
    source_id = _identity(source, old, "the VM's host", "it must be reachable to move the VM")
    guest, domain = _source_domain(source, recorded)
    _guest_there, there = observe_domain(target, spec)  # its domain only: no file read
    paths = own_paths(domain) if domain is not None else ()
    usage = host_usage(target, fresh=True, about=paths) if paths else None
    files = []
    for path in paths:
        stat = source.host.stat(path)
        present = target.host.stat(path) is not None
        files.append(
            OwnFile(
                path,
                stat.size if stat is not None else 0,
                present,
                read_claim(target.host, path),
                usage.domains_using(path) if usage is not None and present else (),
            )
        )
    base_path = recorded.base_path if spec.root_backing and domain is not None else None
    digests: tuple[str | None, str | None] = (None, None)
    if base_path is not None:
        with ThreadPoolExecutor(2, thread_name_prefix="vigo-move-digest") as pool:
            mine = pool.submit(_digest, source.host, base_path)
            theirs = pool.submit(_digest, target.host, base_path)
            digests = (mine.result(), theirs.result())
    unshared = [a.disk.path for a in observe_data_disks(target, spec) if not a.present]
    if (
        not spec.owns_root
        and spec.base.kind == "file"
        and target.host.stat(spec.base.value) is None
    ):
        unshared.append(spec.base.value)
    return MoveFacts(
        source_uri=old,
        source=source_id,
        target=target_id,
        platform=observe_platform(target, spec),
        source_domain=domain,
        source_power=guest.power_state() if guest is not None else None,
        target_domain=there.domain,
        files=tuple(files),
        base_path=base_path,
        source_base=digests[0],
        target_base=digests[1],
        unshared=tuple(unshared),
        free_bytes=_free_bytes(target.host, spec.images_dir) if files else None,
        snapshots=tuple(s.name for s in guest.snapshots()) if guest is not None else (),
    )


def check_move(source: Target, target: Target, spec: VmSpec, recorded: Recorded) -> MovePlan:
    """The move's plan from a fresh look at both hosts; MoveError naming the fix when it
    may not happen. Changes nothing (preview asks it too)."""
    return plan_move(spec, recorded.uuid, look(source, target, spec, recorded))


class _Made:
    """What this run made on the target: the paths it claimed, and those it put a file at.
    Undone on failure, released on success."""

    def __init__(self, target: Target, claim: str) -> None:
        self.target, self.claim = target, claim
        self.claimed: list[str] = []
        self.installed: list[str] = []

    def claim_path(self, path: str) -> None:
        take(self.target.host, path, self.claim, "vm_name")
        self.claimed.append(path)

    def undo(self, spec: VmSpec, uuid: str | None) -> None:
        """Remove what this run made on the target (each file made here, under our sidecar,
        after it was claimed), and the VM's domain left inactive there. Best effort: what
        a dead host keeps is found by the next run (its sidecar names our claim). Should the
        VM run there after all (a migration whose end the source did not hear), nothing is
        removed: the next run finishes the move."""
        host = self.target.hypervisor
        with contextlib.suppress(VigoError, OSError):
            guest = host.lookup(spec.vm_name)
            if guest is not None and uuid is not None and _uuid_of(guest) == uuid:
                if guest.power_state().is_active:
                    return
                guest.undefine()
        self._remove_files()

    def _remove_files(self) -> None:
        host = self.target.host
        for path in self.claimed:
            with contextlib.suppress(VigoError, OSError):
                if read_claim(host, path) == self.claim:
                    if path in self.installed:
                        host.remove(path)
                    host.remove(claim_path(path))

    def release(self) -> None:
        """The domain references our files now: their sidecars are no longer needed."""
        for path in self.claimed:
            release(self.target.host, path, self.claim)


def _uuid_of(guest: Guest) -> str:
    """The UUID in ``guest``'s definition."""
    return from_xml(guest.xml()).config.uuid


def _copy_file(source: Host, target: Host, path: str, progress: Progress, made: _Made) -> None:
    """Copy ``path`` from ``source`` to the same path on ``target``, byte for byte (a qcow2
    keeps its backing file's name), built under a temporary name and moved in exclusively."""

    def build(temporary: str) -> None:
        with target.open_atomic_writer(temporary, _FILE_MODE) as out:
            for chunk in source.read_chunks(path):
                out.write(chunk)
                progress.advance(len(chunk))

    made.claim_path(path)
    install(target, path, build, _FILE_MODE)
    made.installed.append(path)


def move(
    source: Target,
    target: Target,
    spec: VmSpec,
    recorded: Recorded,
    *,
    emit: Callable[[str], None],
    remove_source: Callable[[], object],
) -> Way:
    """Move ``recorded``'s VM from its host to ``spec.uri`` (see the module's docstring);
    the way it went. MoveError, with the VM where it was, when it may not or could not."""
    plan = check_move(source, target, spec, recorded)
    if plan.way is Way.NOTHING:
        return plan.way
    if plan.way is Way.FINISH:
        remove_source()
        return plan.way
    claim = spec.claim or f"vigo-move:{recorded.uuid}"
    for leftover in plan.leftovers:
        remove_ours(target, leftover, claim, "it is left by a failed move of this VM")
    guest = source.hypervisor.lookup(recorded.spec.vm_name)
    assert guest is not None  # plan_move saw it
    domain = from_xml(guest.xml())
    made = _Made(target, claim)
    label = f"VigoVm {spec.vm_name}: moving to {target.host.name}"
    started = time.monotonic()
    try:
        if plan.way is Way.LIVE:
            downtime = _move_live(source, target, spec, recorded, guest, domain, made, label, emit)
        else:
            downtime = None
            _move_cold(source, target, guest, domain, made, label, emit)
    except BaseException as exc:
        made.undo(spec, recorded.uuid)
        if isinstance(exc, MoveError) or not isinstance(exc, Exception):
            raise
        raise MoveError(
            f"the move of {spec.vm_name} to {spec.uri} failed ({exc}); it stays on "
            f"{recorded.spec.uri} as it was, and what the move made on {spec.uri} is removed: "
            "run up again to retry"
        ) from exc
    # Done: nothing of the target's is undone from here on; the source's copy is removed
    # only once the target shows the VM as it should be.
    _require_arrived(target, spec, recorded.uuid, live=plan.way is Way.LIVE)
    made.release()
    took = time.monotonic() - started
    said = f", downtime {downtime} ms" if downtime is not None else ""
    emit(f"{label}: moved ({plan.way.value}) in {took:.1f} s{said}")
    remove_source()
    return plan.way


def _require_arrived(target: Target, spec: VmSpec, uuid: str | None, *, live: bool) -> None:
    """The target holds the VM (our UUID), running when it moved live; else MoveError, and
    the source's copy stays."""
    there = target.hypervisor.lookup(spec.vm_name)
    arrived = there is not None and _uuid_of(there) == uuid
    if there is None or not arrived or (live and not there.power_state().is_active):
        raise MoveError(
            f"{spec.vm_name}: libvirt reported the move done, yet {spec.uri} does not "
            f"{'run' if live else 'hold'} it; the source keeps its copy: run up again"
        )


def _move_cold(
    source: Target,
    target: Target,
    guest: Guest,
    domain: LiveDomain,
    made: _Made,
    label: str,
    emit: Callable[[str], None],
) -> None:
    """Copy the VM's own files, then define it there: the definition comes last, so a
    domain on the target means a complete copy."""
    paths = own_paths(domain)
    sizes = [source.host.stat(p) for p in paths]
    progress = Progress(label, sum(s.size for s in sizes if s is not None), emit)
    for path in paths:
        _copy_file(source.host, target.host, path, progress, made)
    target.hypervisor.define(guest.xml())


def _move_live(
    source: Target,
    target: Target,
    spec: VmSpec,
    recorded: Recorded,
    guest: Guest,
    domain: LiveDomain,
    made: _Made,
    label: str,
    emit: Callable[[str], None],
) -> int | None:
    """Copy what qemu does not carry (seed ISO, NVRAM), make the root's empty twin on the
    target (backed by the same base: qemu's copy writes only the root's own blocks into it),
    then migrate (memory and disk flow qemu to qemu, host to host). Returns libvirt's
    reported downtime (ms)."""
    config = domain.config
    progress = Progress(label, None, emit)
    for path in (config.seed_iso_path, config.nvram_path):
        if path is not None:
            _copy_file(source.host, target.host, path, progress, made)
    root = overlay_info(source.host, config.overlay_path) if spec.owns_root else None
    disks = []
    if root is not None:
        made.claim_path(root.path)
        if root.backing_file is not None:
            base = usable_base(target.host, root.backing_file, spec.base.input_name)
            create_overlay(target.host, root.path, base, root.virtual_size)
        else:
            create_blank(target.host, root.path, root.virtual_size)
        made.installed.append(root.path)
        disks.append("vda")
    full = root is not None and root.backing_file is None
    with ThreadPoolExecutor(1, thread_name_prefix="vigo-migrate") as pool:
        job = pool.submit(guest.migrate, target.hypervisor, guest.xml(), disks, full=full)
        deadline = time.monotonic() + MIGRATE_TIMEOUT_S
        while True:
            try:
                job.result(timeout=_POLL_S)
                break
            except FutureTimeout:
                pass
            if time.monotonic() > deadline:
                with contextlib.suppress(VigoError):
                    guest.abort_job()
            with contextlib.suppress(VigoError):
                stats = guest.job_stats()
                if "data_processed" in stats:
                    progress.reach(int(stats["data_processed"]), stats.get("data_total"))
    with contextlib.suppress(VigoError):
        done = source.hypervisor.lookup(recorded.spec.vm_name)
        if done is not None:
            downtime = done.job_stats(completed=True).get("downtime")
            return int(downtime) if downtime is not None else None
    return None
