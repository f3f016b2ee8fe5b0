"""What a VigoDisk's create or update does to its file, decided from what the host holds.
Pure: the facts come in as values (see :mod:`.effects`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ImageError, InUseError
from ..hostfile.claim import FileOwner, not_owned
from .spec import DiskSpec

__all__ = ["DiskFacts", "DiskPlan", "Step", "plan_converge"]


class Step(StrEnum):
    """One change to the disk's file."""

    CREATE = "create"
    """Make it empty at its full size (qemu-img create at a temporary name, moved in)."""
    GROW_LIVE = "grow-live"
    """Grow it through the running domain that holds it open (blockResize)."""
    GROW_OFFLINE = "grow-offline"
    """Grow it with qemu-img resize: no domain runs with it."""


@dataclass(frozen=True)
class DiskFacts:
    """What the host holds at the disk's path."""

    owner: FileOwner
    recorded_claim: str | None
    """The claim the sidecar names (None: no sidecar)."""
    virtual_size: int | None
    """The file's virtual size (qcow2: from its header; raw: its length); None if absent."""
    snapshots: int = 0
    """How many internal snapshots the file holds (a qcow2's header says)."""


@dataclass(frozen=True)
class DiskPlan:
    """The step to take (None: the file is as declared), and for a live growth the domain
    whose qemu grows it."""

    step: Step | None
    through: str | None = None


def plan_converge(spec: DiskSpec, facts: DiskFacts, running: Sequence[str]) -> DiskPlan:
    """The plan for ``spec``: create a free path, adopt a file our claim names (bytes kept)
    and grow it when smaller. ``running``: the domains that run with the file open.

    Raises NotOwnedError for a file or sidecar of someone else (never adopted), ImageError
    for a file larger than declared (a shrink would cut its data off), InUseError when
    several running domains hold it (no single qemu can grow it for all of them)."""
    if facts.owner is FileOwner.FREE:
        return DiskPlan(Step.CREATE)
    if facts.owner is not FileOwner.OURS:
        raise not_owned(spec.path, facts.owner, facts.recorded_claim, spec.claim, "name")
    size = facts.virtual_size
    if size is None:
        raise ImageError(f"{spec.path}: cannot read its size as a {spec.format.value} image")
    if size > spec.size_bytes:
        raise ImageError(
            f"size_gib: {spec.path} is {size} bytes, larger than {spec.size_gib} GiB; a disk "
            "never shrinks (its data would be cut off): declare its size, or create a new "
            "VigoDisk and copy the data over"
        )
    if size == spec.size_bytes:
        return DiskPlan(None)
    if len(running) > 1:
        raise InUseError(
            spec.path,
            sorted(running),
            "a disk held open by several running domains cannot be grown; stop all but one",
        )
    if running:
        return DiskPlan(Step.GROW_LIVE, running[0])
    return DiskPlan(Step.GROW_OFFLINE)
