"""A file on a hypervisor that a resource owns, refused while in use: the lifecycle that
VigoDisk and VigoBaseImage share. :mod:`.claim` decides (pure), :mod:`.ops` acts."""

from __future__ import annotations

from .claim import CLAIM_SUFFIX, FileOwner, claim_path, file_owner
from .ops import (
    CLAIM_MODE,
    adopt,
    install,
    owner_of,
    read_claim,
    refuse_in_use,
    remove_ours,
    sweep_temporaries,
    take,
)

__all__ = [
    "CLAIM_MODE",
    "CLAIM_SUFFIX",
    "FileOwner",
    "adopt",
    "claim_path",
    "file_owner",
    "install",
    "owner_of",
    "read_claim",
    "refuse_in_use",
    "remove_ours",
    "sweep_temporaries",
    "take",
]
