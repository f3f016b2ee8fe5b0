"""A seed ISO on a host: what it says it is, read bounded (its content is the guest's side)."""

from __future__ import annotations

from ..hosts.base import Host, read_bounded
from .cloudinit import MAX_SEED_BYTES, SeedIdentity, read_seed_identity

__all__ = ["seed_identity"]


def seed_identity(host: Host, path: str) -> SeedIdentity | None:
    """What the file at ``path`` says it is as a seed; None when it is no ISO, or larger than
    any seed we write (then it is not ours either)."""
    data = read_bounded(host, path, MAX_SEED_BYTES + 1)
    return None if len(data) > MAX_SEED_BYTES else read_seed_identity(data)
