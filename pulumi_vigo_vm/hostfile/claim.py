"""Whose a file on a hypervisor is: the claim sidecar's name and text, and the decision.

A file a resource owns (a VigoDisk, a VigoBaseImage) has a sidecar ``<file>.claim`` naming
the resource's claim (its stack's state id and its URN, see
:mod:`pulumi_vigo_vm.common.claimtext`). It is written before the file is moved into place,
so a crashed create, or a file kept by ``retain_on_delete``, is recognised by the same
resource later, and nothing else is ever adopted or removed. Pure: the facts come in as
values (see :mod:`.ops`).
"""

from __future__ import annotations

from enum import StrEnum

from ..common.claimtext import conflict_hint
from ..errors import NotOwnedError

__all__ = [
    "CLAIM_SUFFIX",
    "MAX_CLAIM_BYTES",
    "FileOwner",
    "claim_path",
    "decode_claim",
    "encode_claim",
    "file_owner",
    "not_owned",
]

CLAIM_SUFFIX = ".claim"
MAX_CLAIM_BYTES = 8192
"""A sidecar larger than this is no claim of ours (claims are at most 2048 characters)."""


def claim_path(path: str) -> str:
    """The sidecar beside ``path``."""
    return path + CLAIM_SUFFIX


def encode_claim(claim: str) -> bytes:
    """The sidecar's bytes for ``claim``: the claim and a newline."""
    return claim.encode() + b"\n"


def decode_claim(data: bytes) -> str | None:
    """The claim a sidecar's bytes name, or None when they name none we could have written
    (too long, not UTF-8, empty)."""
    if len(data) > MAX_CLAIM_BYTES:
        return None
    try:
        text = data.decode().removesuffix("\n")
    except UnicodeDecodeError:
        return None
    return text or None


class FileOwner(StrEnum):
    """Whose the path is, as far as a resource holding ``claim`` can tell."""

    FREE = "free"
    """No file there, and no other resource's sidecar: ours to create."""
    OURS = "ours"
    """A file there with a sidecar naming our claim: a crashed create, or a retained file."""
    FOREIGN = "foreign"
    """A file there that our claim does not name: never adopted, never removed."""
    CLAIMED = "claimed"
    """No file, but another resource's sidecar: its create is under way (or crashed)."""


def file_owner(exists: bool, recorded: str | None, claim: str) -> FileOwner:
    """Decide from whether the file ``exists`` and the claim its sidecar names."""
    if exists:
        return FileOwner.OURS if recorded == claim else FileOwner.FOREIGN
    return FileOwner.FREE if recorded in (None, claim) else FileOwner.CLAIMED


def not_owned(
    path: str, owner: FileOwner, recorded: str | None, claim: str | None, what: str
) -> NotOwnedError:
    """The error for a path the resource holding ``claim`` may not take: what is there
    (and, when the sidecar names this resource's own names in another state, why that is
    not us), and the fix."""
    hint = conflict_hint(recorded, claim)
    if owner is FileOwner.CLAIMED:
        return NotOwnedError(
            f"{claim_path(path)} names another owner ({recorded}){hint}; it is left alone: if "
            f"that resource is gone, remove the sidecar, or choose another {what}"
        )
    named = f"another owner ({recorded}){hint}" if recorded else "no owner of ours"
    return NotOwnedError(
        f"{path} already exists and its claim names {named}; it is never adopted or removed: "
        f"move it away, or choose another {what}"
    )
