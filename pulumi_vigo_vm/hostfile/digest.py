"""A file's sha256 on a hypervisor, hashed there (``sha256sum``: no transfer)."""

from __future__ import annotations

from ..hosts.base import Host

__all__ = ["HASH_TIMEOUT_S", "file_sha256"]

HASH_TIMEOUT_S = 3600.0
"""Seconds a hash may take: it reads the whole file (tens of GiB at disk speed)."""


def file_sha256(host: Host, path: str) -> str:
    """The sha256 of the file at ``path`` on ``host``, as hex."""
    result = host.run(["sha256sum", "--", path], timeout=HASH_TIMEOUT_S)
    return result.stdout.split(maxsplit=1)[0].lstrip("\\")
