"""A VM moved to another host (``on_host_change="migrate"``): what must hold before anything
moves, and which way it moves (operations.md §6).

:func:`plan_move` judges the facts both hosts report (:class:`MoveFacts`, read by
:mod:`.move`) and returns a :class:`MovePlan`, or raises :class:`MoveError` naming what is
wrong and the fix, before anything on either host is touched. It is asked at preview (where
the provider reaches both hosts) and again at the update, from a fresh look. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..common.hostcaps import HostIdentity, HostPlatform
from ..errors import MoveError
from ..virt.power import PowerState
from .domain_xml import LiveDomain
from .runnable import require_runnable
from .spec import VmSpec

__all__ = ["MoveFacts", "MovePlan", "OwnFile", "Way", "own_paths", "plan_move"]


class Way(StrEnum):
    """How the VM gets to the target."""

    LIVE = "live"
    """It runs: libvirt migrates it live, its root's own blocks copied by qemu."""
    COLD = "cold"
    """It is stopped or only defined: its files are copied, then it is defined there."""
    FINISH = "finish"
    """Our domain is on the target already (a move that got that far before its run ended):
    only the source's copy is left to remove."""
    NOTHING = "nothing"
    """No domain of ours on either host: nothing to move (the update builds it there)."""


@dataclass(frozen=True)
class OwnFile:
    """One of the VM's own files (root overlay or copy, seed ISO, NVRAM) at its path on the
    target, before the move."""

    path: str
    size: int
    """Its size on the source: what the target needs room for."""
    present: bool = False
    """A file is at that path on the target."""
    claim: str | None = None
    """The claim its sidecar on the target names (None: no sidecar)."""
    used_by: tuple[str, ...] = ()
    """The target's domains that use the file there."""


@dataclass(frozen=True)
class MoveFacts:
    """What the two hosts report for one move, read without changing anything."""

    source_uri: str
    source: HostIdentity
    target: HostIdentity
    platform: HostPlatform
    """What the target offers this VM (arch, firmware, TPM, CPU modes)."""
    source_domain: LiveDomain | None
    source_power: PowerState | None
    target_domain: LiveDomain | None
    """The domain of the VM's name on the target, if any."""
    files: tuple[OwnFile, ...]
    base_path: str | None = None
    """The overlay's base (None: the root is a copy or attached: no base needed there)."""
    source_base: str | None = None
    """The base's sha256 on the source."""
    target_base: str | None = None
    """The base's sha256 on the target (None: not there)."""
    unshared: tuple[str, ...] = ()
    """Data disks and an attached root that the target lacks at the same path."""
    free_bytes: int | None = None
    """Free space in the target's images directory (None: not told)."""
    snapshots: tuple[str, ...] = ()
    """The snapshots the source's domain holds."""


@dataclass(frozen=True)
class MovePlan:
    """The way, and the files of ours a failed earlier attempt left on the target (removed
    before the copy starts)."""

    way: Way
    leftovers: tuple[str, ...] = ()


def own_paths(domain: LiveDomain) -> tuple[str, ...]:
    """The VM's own files its definition references: root (unless attached), seed ISO,
    NVRAM. (An attached root is shared storage: it is not copied.)"""
    config = domain.config
    return tuple(
        p for p in (config.overlay_path, config.seed_iso_path, config.nvram_path) if p is not None
    )


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"


def plan_move(spec: VmSpec, uuid: str | None, facts: MoveFacts) -> MovePlan:
    """How ``spec``'s VM (recorded with ``uuid``; its source at ``facts.source_uri``) moves
    to ``spec.uri``, or MoveError naming the fix. Nothing has been touched when it raises."""
    old, new = facts.source_uri, spec.uri
    if facts.source.uuid and facts.source.uuid == facts.target.uuid:
        raise MoveError(
            f"uri: {old} and {new} reach the same host (host UUID {facts.source.uuid}): "
            "a move needs another host. Keep uri as it was, or point it at the other host"
        )
    ours = {spec.claim} - {None}
    target_domain = facts.target_domain
    if target_domain is not None:
        ours_there = target_domain.config.uuid == uuid and (
            target_domain.claim in ours or target_domain.claim is None
        )
        if not ours_there:
            raise MoveError(
                f"vm_name: a domain named {spec.vm_name} is defined on {new} (UUID "
                f"{target_domain.config.uuid}), and it is not this VM: remove or rename it "
                f"there (virsh -c {new} undefine {spec.vm_name}), or keep uri as it was"
            )
        if facts.source_power is not None and facts.source_power.is_active:
            raise MoveError(
                f"{spec.vm_name} is defined on {new} and runs on {old}: an earlier move was "
                f"cut off between the two. Undefine it on {new} (virsh -c {new} undefine "
                f"{spec.vm_name}) if it does not run there, and run up again"
            )
        return MovePlan(Way.FINISH)
    source = facts.source_domain
    if source is None:
        return MovePlan(Way.NOTHING)
    if facts.snapshots:
        raise MoveError(
            f"{spec.vm_name} holds snapshots on {old} ({', '.join(facts.snapshots)}): they "
            "do not move with it; delete them (their VigoSnapshot resources) before the move"
        )
    require_runnable(spec, facts.platform)
    live = facts.source_power is not None and facts.source_power.is_active
    _require_cpu(spec, facts, live)
    if spec.tpm and not live:
        raise MoveError(
            f"tpm: the TPM state of a stopped VM is libvirt's own (/var/lib/libvirt/swtpm) "
            f"and does not travel with its files; start {spec.vm_name} (state='running') "
            "so it moves live, its TPM state with it"
        )
    _require_base(spec, facts)
    if facts.unshared:
        raise MoveError(
            f"data_disks: {', '.join(facts.unshared)} not on {new} at the same path: a moved "
            "VM keeps its data disks (and an attached root) where they are, so they must be "
            "on storage both hosts share, mounted at the same path; mount it there, or "
            "detach them before the move"
        )
    leftovers = []
    for own in facts.files:
        if not own.present:
            continue
        if own.claim not in ours or own.used_by:
            users = f" (used by {', '.join(own.used_by)})" if own.used_by else ""
            raise MoveError(
                f"{own.path} exists on {new}{users} and is not this VM's: remove it there, or "
                "move the VM to another host"
            )
        leftovers.append(own.path)  # ours, claimed by an attempt that failed: again
    needed = sum(own.size for own in facts.files)
    if facts.free_bytes is not None and facts.free_bytes < needed:
        raise MoveError(
            f"images_dir: {spec.images_dir} on {new} has {_mib(facts.free_bytes)} free, the "
            f"move of {spec.vm_name} needs {_mib(needed)}: free space there"
        )
    return MovePlan(Way.LIVE if live else Way.COLD, tuple(leftovers))


def _require_cpu(spec: VmSpec, facts: MoveFacts, live: bool) -> None:
    """A ``host-passthrough`` guest sees the host's CPU as it is: moved between unlike CPUs,
    a running guest meets instructions gone from under it (libvirt may not even tell)."""
    if spec.cpu != "host-passthrough":
        return
    unlike = facts.source.cpu.differences(facts.target.cpu)
    if not unlike:
        return
    when = "a running guest would break there" if live else "the guest would boot on another CPU"
    raise MoveError(
        f"cpu_mode: host-passthrough shows the guest the host's CPU, and {spec.uri} has "
        f"another one ({'; '.join(unlike)}): {when}. Set cpu_mode='host-model' (or a "
        "custom:<model> both hosts run) and restart the VM before it moves"
    )


def _require_base(spec: VmSpec, facts: MoveFacts) -> None:
    """An overlay holds only its own blocks: the target must hold the very base under it."""
    if facts.base_path is None:
        return
    name, path = spec.base.input_name, facts.base_path
    if facts.target_base is None:
        raise MoveError(
            f"{name}: the base {path} is not on {spec.uri}, and the overlay moves without "
            f"it: add a VigoBaseImage on that host (uri={spec.uri!r}, path={path!r}, the "
            "same source) and run up again"
        )
    if facts.target_base != facts.source_base:
        raise MoveError(
            f"{name}: the base {path} on {spec.uri} is another image than on "
            f"{facts.source_uri} (sha256 {facts.target_base[:12]}… vs "
            f"{(facts.source_base or '?')[:12]}…): the overlay would read wrong blocks there. "
            "Place the same image there (a VigoBaseImage of the same source) and run up again"
        )
