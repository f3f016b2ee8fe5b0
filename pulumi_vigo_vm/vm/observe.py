"""Read what a host holds for one VM, and resolve its base disk. Reads only, never writes.

(``Target`` lives in :mod:`pulumi_vigo_vm.virt.target`; it is re-exported here for callers
of the previous release.)

This is everything ``diff`` and ``read`` need, and what ``create``/``update`` plan from,
so ``pulumi preview`` can compare against the live host without mutating it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ..common.hostcaps import HostPlatform
from ..common.typetokens import VIGO_DISK as DISK_TYPE
from ..dynamic.claims import claimed_type
from ..errors import (
    CommandTimeoutError,
    HostError,
    HostUnreachableError,
    ImageError,
    NotRegularFileError,
)
from ..hostfile.guestfile import probe
from ..hostfile.images import overlay_info, usable_base
from ..hostfile.ops import read_claim
from ..hostfile.usage import HostUsage, host_usage
from ..hosts.base import Host
from ..spec import ProviderDefaults
from ..virt.autostart import autostart_of
from ..virt.capabilities import host_platform
from ..virt.hypervisor import Guest
from ..virt.target import Target
from .artifact_base import resolve_artifact_base
from .cloudinit import SeedIdentity
from .devices import DataDisk, Nic
from .domain_xml import OPENVSWITCH, from_xml
from .model import AttachedDisk, NicSource, Observed, Recorded, ResolvedBase
from .ownership import Candidates, DomainOwner, FileFacts, owner_of, removal_candidates
from .runnable import domain_machine
from .seedfile import seed_identity
from .spec import VmSpec

__all__ = [
    "Target",
    "observe",
    "observe_attached_root",
    "observe_busy",
    "observe_data_disks",
    "observe_domain",
    "observe_files",
    "observe_nic_sources",
    "observe_platform",
    "observe_removal",
    "resolve_base",
]

OVS_TIMEOUT_S = 5
"""How long ``ovs-vsctl`` waits for Open vSwitch's database (libvirt's own calls wait 5 s)."""


def observe(target: Target, spec: VmSpec, *, look: bool = False) -> Observed:
    """The four axes as the host reports them for ``spec``'s VM.

    ``look``: for a diff or a refresh, which act on nothing they see: the autostart flag
    may come from the host's listing (:mod:`~pulumi_vigo_vm.virt.autostart`, one for many
    VMs) and the NVRAM file is not looked at (only a plan judges it)."""
    guest, domain_only = observe_domain(target, spec)
    seed = spec.seed_iso_path
    autostart = None
    if guest is not None and domain_only.domain is not None and look:
        uuid = domain_only.domain.config.uuid
        autostart = autostart_of(target.hypervisor, guest, uuid)
    elif guest is not None:
        autostart = guest.autostart()
    return replace(
        domain_only,
        autostart=autostart,
        overlay=overlay_info(target.host, spec.overlay_path) if spec.owns_root else None,
        seed_present=seed is not None and target.host.stat(seed) is not None,
        platform=observe_platform(target, spec),
        nvram_present=not look and target.host.stat(spec.nvram_path) is not None,
    )


def observe_domain(target: Target, spec: VmSpec) -> tuple[Guest | None, Observed]:
    """The domain alone (its definition, run state and running definition) and its handle:
    all a removal needs. Files are not looked at here (the Observed says no overlay, no
    seed; :func:`observe_files` tells what a removal may remove) nor the host's platform,
    so a delete costs three libvirt calls and no file read before it proves ownership."""
    guest = target.hypervisor.lookup(spec.vm_name)
    domain = from_xml(guest.xml()) if guest is not None else None
    power = guest.power_state() if guest is not None else None
    running = None
    if guest is not None and power is not None and power.is_active:
        running = from_xml(guest.running_xml()).config
    return guest, Observed(
        domain=domain, power=power, overlay=None, seed_present=False, running=running
    )


def observe_platform(target: Target, spec: VmSpec) -> HostPlatform:
    """What the host offers ``spec``'s VM: its arch (the host's own unless ``arch`` is
    given) and, on the VM's machine, firmware, TPM and CPU modes."""
    return host_platform(
        target.hypervisor, spec.arch, spec.domain_type, lambda arch: domain_machine(spec, arch)
    )


_FILE_READS = ThreadPoolExecutor(16, thread_name_prefix="vigo-file-facts")
"""Runs one VM's file reads side by side: over SSH each is a few SFTP round trips, and the
overlay, seeds and logs of one VM do not depend on each other."""


def observe_files(target: Target, spec: VmSpec, candidates: Candidates) -> FileFacts:
    """What is at each path a VM might remove: enough to prove (or not) that it is ours.

    The overlay's header read tells whether it exists, a seed's read whether it does (no
    separate stat for either); each path is inspected concurrently."""
    host = target.host
    overlay = (
        _FILE_READS.submit(overlay_info, host, spec.overlay_path) if candidates.overlays else None
    )
    seeds = {p: _FILE_READS.submit(_seed_facts, target, p) for p in candidates.seeds}
    logs = {p: _FILE_READS.submit(host.stat, p) for p in candidates.logs}
    info = overlay.result() if overlay is not None else None
    seen = {p: future.result() for p, future in seeds.items()}
    present = {p for p in candidates.overlays if info is not None}
    present |= {p for p, (exists, _identity) in seen.items() if exists}
    present |= {p for p, future in logs.items() if future.result() is not None}
    identities = {p: identity for p, (exists, identity) in seen.items() if exists}
    return FileFacts(overlay=info, seeds=identities, present=frozenset(present))


_EARLY_READS = ThreadPoolExecutor(16, thread_name_prefix="vigo-early-file-facts")
"""Runs :func:`observe_files` beside a removal's libvirt calls; its own pool, because
:func:`observe_files` waits on ``_FILE_READS`` (a pool's task waiting on its own pool could
wait for ever)."""


def observe_removal(
    target: Target, spec: VmSpec, recorded: Recorded | None
) -> tuple[Guest | None, Observed, Candidates, FileFacts]:
    """What a removal decides from: the domain and its handle, the candidate paths (those
    our domain references and those the recorded outputs name) and their file facts.

    The recorded outputs name the candidates before the domain is read, so their files are
    read while libvirt answers; only when our domain references a path they do not name
    (state of an older release, a rename) are the facts read again, for every candidate."""
    named = removal_candidates(spec, None, recorded)
    early = _EARLY_READS.submit(observe_files, target, spec, named)
    guest, observed = observe_domain(target, spec)
    ours = owner_of(observed, spec, recorded) is DomainOwner.OURS
    running_log = observed.running.console_log_path if observed.running else None
    candidates = removal_candidates(
        spec, observed.domain if ours else None, recorded, [running_log]
    )
    facts = early.result()
    if not set(candidates.all) <= set(named.all):
        facts = observe_files(target, spec, candidates)
    return guest, observed, candidates, facts


def _seed_facts(target: Target, path: str) -> tuple[bool, SeedIdentity | None]:
    """Whether a file is at ``path`` and, if so, what it says it is as a seed (the read
    tells a missing file: no stat first)."""
    try:
        return True, seed_identity(target.host, path)
    except FileNotFoundError:
        return False, None


def resolve_base(target: Target, spec: VmSpec, defaults: ProviderDefaults) -> ResolvedBase:
    """Find the base disk on the host (and check it is usable as a backing file).

    An artifact is resolved against the curator; one not yet on the host comes back with
    ``format`` None, and the plan fetches it (``Action.FETCH_BASE``).
    """
    base = spec.base
    if base.kind == "file":
        return ResolvedBase.from_image(usable_base(target.host, base.value, "disk_path"))
    if base.kind == "pool":
        pool, volume = base.pool_volume
        path = target.hypervisor.pool_volume_path(pool, volume)
        if path is None:
            raise ImageError(
                f"disk_path: storage volume {volume!r} in pool {pool!r} does not exist on "
                f"{spec.uri} (virsh vol-list {pool})"
            )
        return ResolvedBase.from_image(usable_base(target.host, path, "disk_path"))
    return resolve_artifact_base(target, spec, defaults)


def observe_nic_sources(target: Target, nics: tuple[Nic, ...]) -> tuple[NicSource, ...]:
    """What the host has for each NIC's source: a Linux bridge is a directory
    ``/sys/class/net/<name>/bridge`` on the host, an Open vSwitch bridge one that
    ``ovs-vsctl br-exists`` knows (asked only for a NIC on OVS), a macvtap's parent any
    ``/sys/class/net/<name>``; a libvirt network is libvirt's answer."""
    found = []
    for nic in nics:
        if nic.kind == "bridge":
            linux = target.host.stat(f"/sys/class/net/{nic.source}/bridge") is not None
            if nic.virtualport == OPENVSWITCH:
                present = not linux and _is_ovs_bridge(target.host, nic.source)
                found.append(NicSource(nic, present, linux_bridge=linux))
            else:
                found.append(NicSource(nic, linux))
        elif nic.kind == "direct":  # macvtap's parent, any host interface
            found.append(
                NicSource(nic, target.host.stat(f"/sys/class/net/{nic.source}") is not None)
            )
        else:
            active = target.hypervisor.network_active(nic.source)
            found.append(NicSource(nic, active is not None, bool(active)))
    return tuple(found)


def _is_ovs_bridge(host: Host, name: str) -> bool:
    """Open vSwitch on ``host`` has a bridge ``name``: ``ovs-vsctl br-exists`` exits 0 (2:
    no such bridge; Open vSwitch not installed or not running: no bridge either)."""
    try:
        result = host.run(
            ["ovs-vsctl", f"--timeout={OVS_TIMEOUT_S}", "br-exists", name],
            check=False,
            timeout=2 * OVS_TIMEOUT_S,
        )
    except (HostUnreachableError, CommandTimeoutError):
        raise
    except HostError:  # ovs-vsctl is not installed on this host
        return False
    return result.returncode == 0


def observe_data_disks(
    target: Target, spec: VmSpec, fresh: HostUsage | None = None
) -> tuple[AttachedDisk, ...]:
    """What the host holds for each of ``spec``'s data disks, and who else uses it.

    With ``fresh`` (a listing taken at the act, under the host's act lock) from it alone.
    Else the host's listing kept for this run answers first; a disk it shows in use
    elsewhere is asked again from a fresh listing, so a refusal never rests on a stale one
    (a "free" may: the define asks again at the act, see :mod:`pulumi_vigo_vm.hostfile.act`)."""
    if not spec.data_disks:
        return ()
    if fresh is not None:
        return tuple(_attached(target, spec, disk, fresh) for disk in spec.data_disks)
    about = [disk.path for disk in spec.data_disks if not disk.is_volume]
    usage = host_usage(target, about=about)
    found = [_attached(target, spec, disk, usage) for disk in spec.data_disks]
    if any(a.writers or a.readers for a in found):
        usage = host_usage(target, fresh=True, about=about)
        found = [_attached(target, spec, disk, usage) for disk in spec.data_disks]
    return tuple(found)


def observe_busy(target: Target, observed: Observed) -> tuple[str, ...]:
    """The jobs ``observed``'s running domain runs: a migration (or save, dump), a block
    job on any of its disks; () for a domain that is off or idle."""
    running = observed.running
    guest = target.hypervisor.lookup(running.name) if running is not None else None
    if guest is None or running is None:
        return ()
    job = guest.job()
    busy = [f"{job} (virsh domjobinfo)"] if job else []
    targets = ["vda", *(disk.target for disk in running.data_disks)]
    busy += [f"a block job on {t} (virsh blockjob)" for t in targets if guest.block_job_active(t)]
    return tuple(busy)


def observe_attached_root(
    target: Target, spec: VmSpec, base: ResolvedBase, fresh: HostUsage | None = None
) -> AttachedDisk | None:
    """Who else uses an attached root (``disk_mode="attach"``), as for a data disk (see
    :func:`observe_data_disks`); None for an overlay."""
    if spec.owns_root:
        return None
    disk = DataDisk(spec.base.value, base.format or "raw")
    if fresh is not None:
        return _attached(target, spec, disk, fresh)
    about = [] if disk.is_volume else [disk.path]
    found = _attached(target, spec, disk, host_usage(target, about=about))
    if found.writers or found.readers:
        found = _attached(target, spec, disk, host_usage(target, fresh=True, about=about))
    return found


def _attached(target: Target, spec: VmSpec, disk: DataDisk, usage: HostUsage) -> AttachedDisk:
    path: str | None = disk.path
    if disk.is_volume:
        pool, _, volume = disk.path.partition(":")
        path = target.hypervisor.pool_volume_path(pool, volume)
    if path is None or target.host.stat(path) is None:
        return AttachedDisk(disk, path, present=False)
    others = [use for use in usage.users(path) if use.domain != spec.vm_name]
    writers = tuple(sorted({u.domain for u in others if u.writable}))
    readers = tuple(sorted({u.domain for u in others if not u.writable} - set(writers)))
    claim = read_claim(target.host, path)
    owner = claim if claim is not None and claimed_type(claim) != DISK_TYPE else None
    found = AttachedDisk(disk, path, True, None, writers, readers, owner_claim=owner)
    try:
        probed, image = probe(target.host, path, block_device=True)
    except NotRegularFileError as exc:
        return replace(found, unreadable=exc.kind)
    return replace(found, image=image, probed=probed)
