"""What is ours on a hypervisor: the domain a resource owns, and the files a VM may remove.

The reference page's rule, "vm_name is the idempotency key — two configurations can't
manage the same domain", made precise (see docs/ownership.md):

* a domain is ours when its marker names our claim (the resource's URN), or when its UUID is
  the one our recorded outputs name (state of the previous release, whose marker named no
  owner; a rename with aliases, whose claim changed);
* a file is ours when our own domain references it, or our recorded outputs name it, *and*
  its content still says so: an overlay is a qcow2 with a backing file (the recorded base,
  when only the outputs vouch for it), a seed is a ``cidata`` ISO carrying our
  ``instance-id``, a console log sits at one of our log names. Nothing is ever removed
  because its name matches a pattern, and a base never is.

Pure: the facts come in as values (see :mod:`pulumi_vigo_vm.vm.observe`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..common.claimtext import conflict_hint, other_state
from ..errors import NotOwnedError, SnapshotError
from ..hostfile.imageformat import ImageInfo
from ..hostfile.snapshots import SnapshotFacts, made_in_state
from .cloudinit import SEED_VOLUME_ID, SeedIdentity, instance_id
from .domain_xml import LiveDomain
from .filenames import console_log_path, legacy_console_log_path
from .model import Observed, Recorded
from .spec import RunState, VmSpec

__all__ = [
    "Candidates",
    "DomainOwner",
    "FileFacts",
    "claimed_by_sibling",
    "domain_owner",
    "not_ours",
    "owner_of",
    "recorded_overlay",
    "refuse_held_snapshots",
    "removable_files",
    "removal_candidates",
    "require_nvram_ours",
    "require_ours",
    "superseded_seeds",
]


class DomainOwner(StrEnum):
    """Whose a same-named domain is, as far as this resource can tell."""

    NONE = "none"  # no such domain
    OURS = "ours"
    UNMARKED = "unmarked"  # not made by pulumi_vigo_vm
    UNCLAIMED = "unclaimed"  # made by the previous release, for an owner it did not record
    OTHER = "other"  # claimed by another resource or stack


def domain_owner(
    live: LiveDomain | None, claim: str | None, recorded_uuid: str | None
) -> DomainOwner:
    """Classify ``live`` for the resource with ``claim`` whose outputs name ``recorded_uuid``.

    Our claim in the marker makes it ours (a crashed create of this very resource: the
    claim carries the stack's state id, checkpointed before). A marker written by another
    state is never ours, even with our recorded UUID (two states that both recorded it
    through the legacy claim's hole); otherwise the recorded UUID vouches (a legacy or v1
    marker, a rename with aliases) and the marker is then rewritten with our claim."""
    if live is None:
        return DomainOwner.NONE
    if live.marked and claim is not None and live.claim == claim:
        return DomainOwner.OURS
    if live.marked and other_state(live.claim, claim):
        return DomainOwner.OTHER
    if recorded_uuid and live.config.uuid == recorded_uuid:
        return DomainOwner.OURS
    if not live.marked:
        return DomainOwner.UNMARKED
    if live.claim is None:
        return DomainOwner.UNCLAIMED
    return DomainOwner.OTHER


def owner_of(observed: Observed, spec: VmSpec, recorded: Recorded | None) -> DomainOwner:
    """Whose the domain ``observed`` holds is, for ``spec``'s claim and ``recorded`` UUID."""
    return domain_owner(observed.domain, spec.claim, recorded.uuid if recorded else None)


def require_ours(owner: DomainOwner, live: LiveDomain | None, spec: VmSpec) -> None:
    """Raise NotOwnedError, naming the owner where known, unless the domain is ours or absent."""
    reason = not_ours(owner, live, spec)
    if reason is not None:
        raise NotOwnedError(f"vm_name: {reason}")


def not_ours(owner: DomainOwner, live: LiveDomain | None, spec: VmSpec) -> str | None:
    """Why ``live`` is not this resource's to manage, naming the owner where known and the
    fix (the reason of a ``vm_name`` refusal); None when it is ours or absent."""
    if owner in (DomainOwner.NONE, DomainOwner.OURS) or live is None:
        return None
    where = f"a domain named {spec.vm_name!r} already exists on {spec.uri}"
    if owner == DomainOwner.UNMARKED:
        why = "and was not created by pulumi_vigo_vm"
    elif owner == DomainOwner.UNCLAIMED:
        why = (
            "and was created by an earlier pulumi_vigo_vm for an owner it did not record "
            "(not this stack's state)"
        )
    else:
        sibling = claimed_by_sibling(live.claim, spec)
        if sibling is not None:
            return sibling
        why = f"and belongs to {live.claim}{conflict_hint(live.claim, spec.claim)}"
    return (
        f"{where} {why}; it is left alone: choose another vm_name, or remove that domain "
        "yourself if it is no longer wanted"
    )


def require_nvram_ours(wanted: str | None, live: LiveDomain | None, present: bool) -> None:
    """Raise NotOwnedError when a file sits at the NVRAM path ``wanted`` that our domain
    (``live``, already proven ours) does not reference: libvirt would silently boot the VM
    with those UEFI variables (another machine's keys and boot entries)."""
    if wanted is None or not present:
        return
    if live is not None and live.config.nvram_path == wanted:
        return
    raise NotOwnedError(
        f"firmware: {wanted} already exists, but no domain of this VM references it; it may "
        "be another VM's UEFI variables, so it is left alone: move it away (or choose another "
        "vm_name) and run again"
    )


def claimed_by_sibling(theirs: str | None, spec: VmSpec) -> str | None:
    """The refusal for a domain whose claim names another resource of this very stack (same
    claim up to the resource name), which this resource's state does not record: two
    resources of the program declare one vm_name, or this one was that one before a rename.
    The provider sees one resource at a time, so the message names both cases and the fix
    of each (the reason of a ``vm_name`` refusal). None when the claim is not of this
    stack."""
    if not theirs or not spec.claim:
        return None
    their_scope, _, their_name = theirs.rpartition("::")
    our_scope, _, our_name = spec.claim.rpartition("::")
    if their_scope != our_scope or their_name == our_name:
        return None
    return (
        f"resource {their_name!r} of this stack already manages vm_name "
        f"{spec.vm_name!r} on {spec.uri} (its domain's marker names {theirs}), and {our_name!r} "
        "has no record of that domain; a vm_name must be unique per host. If both resources "
        f"are in the program, give one of them another vm_name. If {their_name!r} is no longer "
        f"in the program because it was renamed to {our_name!r}, keep its VM with "
        f"opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name={their_name!r})])"
    )


@dataclass(frozen=True)
class FileFacts:
    """What the host holds at the paths a VM might remove (see :func:`removal_candidates`).

    ``overlay``: the image at the VM's overlay path; ``seeds``: the identity of each
    candidate seed that exists (None: not an ISO); ``present``: every candidate that exists.
    """

    overlay: ImageInfo | None
    seeds: Mapping[str, SeedIdentity | None]
    present: frozenset[str]


@dataclass(frozen=True)
class Candidates:
    """Paths a VM might own, each vouched for by its domain or by its recorded outputs."""

    overlays: tuple[str, ...]
    seeds: tuple[str, ...]
    logs: tuple[str, ...]
    by_domain: frozenset[str]

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.overlays + self.seeds + self.logs))


def _domain_paths(domain: LiveDomain | None, running: Iterable[str | None]) -> list[str | None]:
    if domain is None:
        return []
    config = domain.config
    return [config.overlay_path, config.seed_iso_path, config.console_log_path, *running]


def removal_candidates(
    spec: VmSpec,
    owned: LiveDomain | None,
    recorded: Recorded | None,
    running_logs: Iterable[str | None] = (),
) -> Candidates:
    """The paths worth inspecting before removing a VM's files: those ``owned`` (our domain)
    references and those ``recorded`` names, limited to this VM's own file names."""
    by_domain = {p for p in _domain_paths(owned, running_logs) if p}
    named = set(by_domain)
    if recorded is not None and recorded.spec.state is not RunState.ABSENT:
        # (outputs of an absent VM say where its files would be, not that they exist)
        named |= {
            p
            for p in (recorded.overlay_path, recorded.seed_iso_path, recorded.console_log_path)
            if p
        }
    logs = (console_log_path(spec.vm_name), legacy_console_log_path(spec.vm_name))
    return Candidates(
        # An attached root is never a candidate: only the overlay is the VM's own disk.
        overlays=(spec.overlay_path,) if spec.owns_root and spec.overlay_path in named else (),
        seeds=tuple(sorted(p for p in named if _seed_hash_of(spec, p) is not None)),
        logs=tuple(p for p in logs if p in named),
        by_domain=frozenset(by_domain),
    )


def superseded_seeds(
    spec: VmSpec, owned: LiveDomain | None, recorded: Recorded | None
) -> Candidates:
    """The seeds our domain or outputs named before ``spec``'s (a reseed swapped them): to
    remove once the domain no longer uses them, each still proven ours by its content."""
    found = removal_candidates(spec, owned, recorded)
    seeds = tuple(p for p in found.seeds if p != spec.seed_iso_path)
    return Candidates(overlays=(), seeds=seeds, logs=(), by_domain=found.by_domain)


def _seed_hash_of(spec: VmSpec, path: str) -> str | None:
    """The hash in ``path`` when it is one of this VM's seed names in its images_dir."""
    directory, name = posixpath.split(path)
    if directory != spec.images_dir:
        return None
    match = re.fullmatch(re.escape(spec.seed_iso_prefix) + r"([0-9a-f]{8})\.iso", name)
    return match.group(1) if match else None


def recorded_overlay(
    recorded: Recorded | None, info: ImageInfo | None, backed: bool = True
) -> bool:
    """``info`` is the root our recorded outputs name, still what its mode made: an overlay
    on the recorded base (``backed``), or a copy (a qcow2 naming no other file)."""
    if recorded is None or info is None or info.path != recorded.overlay_path:
        return False
    if not backed:
        return info.format == "qcow2" and info.backing_file is None and info.data_file is None
    return info.backing_file is not None and info.backing_file == recorded.base_path


def _overlay_is_ours(
    spec: VmSpec, path: str, info: ImageInfo | None, by_domain: bool, recorded: Recorded | None
) -> bool:
    """The VM's root file is what its mode makes (an overlay has a backing file, a copy has
    none: a file without backing where an overlay is expected may be a base; never), and
    our domain references it or our outputs name it."""
    if info is None or (info.backing_file is None) == spec.root_backing:
        return False
    if recorded is not None and path == recorded.base_path:
        return False
    return by_domain or recorded_overlay(recorded, info, spec.root_backing)


def _seed_is_ours(spec: VmSpec, path: str, identity: SeedIdentity | None) -> bool:
    seed_hash = _seed_hash_of(spec, path)
    return (
        seed_hash is not None
        and identity is not None
        and identity.volume_id.lower() == SEED_VOLUME_ID
        and identity.instance_id == instance_id(spec.vm_name, seed_hash)
    )


def removable_files(
    spec: VmSpec,
    candidates: Candidates,
    facts: FileFacts,
    recorded: Recorded | None,
    keep: Iterable[str | None] = (),
) -> tuple[str, ...]:
    """The candidates that exist, are provably ours, and are not in ``keep``."""
    kept = {p for p in keep if p}
    removable = [
        path
        for path in candidates.overlays
        if _overlay_is_ours(spec, path, facts.overlay, path in candidates.by_domain, recorded)
    ]
    removable += [p for p in candidates.seeds if _seed_is_ours(spec, p, facts.seeds.get(p))]
    removable += [p for p in candidates.logs if p in facts.present]
    return tuple(p for p in removable if p in facts.present and p not in kept)


def refuse_held_snapshots(spec: VmSpec, snapshots: Iterable[SnapshotFacts]) -> None:
    """Refuse (SnapshotError) to undefine a domain that holds snapshots: a VM never discards
    one silently. A snapshot this package did not make is the operator's data; one a
    VigoSnapshot of this stack made is still there only because the program does not make it
    depend on the VM (the engine deletes dependents first)."""
    held = list(snapshots)
    foreign = [s.name for s in held if not made_in_state(s.claim, spec.claim)]
    ours = [s.name for s in held if made_in_state(s.claim, spec.claim)]
    where = f"{spec.vm_name} on {spec.uri}"
    if foreign:
        names = ", ".join(repr(name) for name in foreign)
        raise SnapshotError(
            f"{where} holds snapshots this package did not make: {names}; a destroy or "
            "replace would discard them (they are the operator's data). Delete them "
            f"(virsh snapshot-delete {spec.vm_name} <name>) or keep the VM, then run again"
        )
    if ours:
        names = ", ".join(repr(name) for name in ours)
        raise SnapshotError(
            f"{where} still holds the VigoSnapshots {names}: pass the VM's vm_name Output "
            "(vm_name=vm.vm_name) to each VigoSnapshot so the engine deletes them before the "
            "VM, or remove them from the program first, then run again"
        )
