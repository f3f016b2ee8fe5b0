"""A file on a hypervisor that a resource owns, refused while in use: the lifecycle that
VigoDisk and VigoBaseImage share. :mod:`.claim` decides (pure), :mod:`.ops` acts, and
:mod:`.side` holds the files we write beside it (records, sidecars) to the same rules."""

from __future__ import annotations

from .claim import CLAIM_SUFFIX, FileOwner, claim_path, file_owner
from .ops import (
    CLAIM_MODE,
    adopt,
    install,
    owner_of,
    read_claim,
    refuse_in_use,
    release,
    remove_ours,
    rename_claim,
    sweep_temporaries,
    take,
    unused,
)
from .side import Ours, SideOwner, remove_side, require_side, side_owner, write_side

__all__ = [
    "CLAIM_MODE",
    "CLAIM_SUFFIX",
    "FileOwner",
    "Ours",
    "SideOwner",
    "adopt",
    "claim_path",
    "file_owner",
    "install",
    "owner_of",
    "read_claim",
    "refuse_in_use",
    "release",
    "remove_ours",
    "remove_side",
    "rename_claim",
    "require_side",
    "side_owner",
    "sweep_temporaries",
    "take",
    "unused",
    "write_side",
]
