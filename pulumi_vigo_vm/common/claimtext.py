"""A claim's text: which Pulumi state, and which resource in it, owns a domain or a file.

``state:<id>/<organization>/<URN>``. ``<id>`` is the stack's state id: a random value kept in
the stack's own state (the VigoStateId resource, see :mod:`pulumi_vigo_vm.stateid`), so two
stacks with the same organization, project, stack and resource names in different backends
(every local backend's organization is ``organization``) never claim alike, while a crashed
create of this very resource claims exactly as before (the state id was checkpointed before
any VM, disk or base image that carries it was created).

The release before wrote ``<organization>/<URN>`` (a *legacy* claim, no state id); it is
accepted only where this resource's own state vouches for the thing (a recorded UUID, a
recorded claim), then rewritten in place. Pure: no SDK, no host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "STATE_PREFIX",
    "Claim",
    "compose",
    "conflict_hint",
    "other_state",
    "parse",
]

STATE_PREFIX = "state:"
_STATE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Claim:
    """A claim split: the state id (None for a legacy claim) and the owner
    (``<organization>/<URN>``)."""

    state: str | None
    owner: str


def compose(state_id: str, owner: str) -> str:
    """The claim of ``owner`` (``<organization>/<URN>``) in the state ``state_id``."""
    if not _STATE_ID.fullmatch(state_id):
        raise ValueError(f"state id {state_id!r} is not 32 lowercase hex digits")
    return f"{STATE_PREFIX}{state_id}/{owner}"


def parse(text: str) -> Claim:
    """Split ``text``; a text without a well-formed state prefix is a legacy claim."""
    if text.startswith(STATE_PREFIX):
        state, _, owner = text[len(STATE_PREFIX) :].partition("/")
        if _STATE_ID.fullmatch(state) and owner:
            return Claim(state, owner)
    return Claim(None, text)


def other_state(theirs: str | None, ours: str | None) -> bool:
    """``theirs`` was written by another Pulumi state than the one ``ours`` comes from: it
    names a state id, and ours names none or another. Such a claim is never ours, whatever
    else (a UUID in our outputs) seems to vouch for it: two states that both recorded one
    domain (adopted through the legacy claim's hole) are told apart from the first run on."""
    if theirs is None:
        return False
    their_state = parse(theirs).state
    return their_state is not None and (ours is None or parse(ours).state != their_state)


def conflict_hint(theirs: str | None, ours: str | None) -> str:
    """Why a claim that names this resource's own names is still not ours, for an error."""
    if theirs is None or ours is None:
        return ""
    mine, other = parse(ours), parse(theirs)
    if other.owner != mine.owner or other.state == mine.state:
        return ""
    if other.state is None:
        return (
            " (an earlier release's claim for these very names, with no state id: another "
            "stack of the same organization/project/stack names in another backend, or this "
            "resource's own create interrupted before the upgrade; if it is yours, remove it "
            "and run again)"
        )
    return (
        " (the same organization/project/stack/resource names in another Pulumi state: "
        f"another backend, or this stack's state lost or re-created; this resource claims {ours})"
    )
