"""The name of every temporary we build on a host, and how a dead run's are recognised.

One recipe for every temporary (both hosts' ``write_atomic`` and ``open_atomic_writer``,
overlays built by qemu-img, downloads, side files): in the final file's own directory, so the
last rename stays on one filesystem and is atomic; hidden, so a listing of what we manage
skips it; with a random token, so concurrent writers never share one. The sweeps (a VM's
images directory, a VigoDisk's or base image's directory, the curator's artifact directories)
recognise what a killed run left by that same grammar and age. Pure.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = [
    "TEMPORARY_MAX_AGE_S",
    "TEMPORARY_SUFFIX",
    "stale_temporaries",
    "temporary_name",
    "temporary_pattern",
]

_TOKEN_BYTES: Final = 6

TEMPORARY_SUFFIX: Final = r"\.[A-Za-z0-9_]{6,16}\.tmp"
"""The regular expression of what :func:`temporary_name` appends to a final name (its token
is ``2 * 6`` hex digits; the range leaves room for the previous release's writers)."""

TEMPORARY_MAX_AGE_S: Final = 3600.0
"""A temporary whose last write is older than this was left by a run that died: an overlay
or a seed is written in well under a minute, even a 16 MiB seed over a slow SSH link, and a
live download writes every few seconds (its idle timeout is a minute); an hour also leaves
room for host clock skew."""


def temporary_name(path: str) -> str:
    """A fresh hidden name beside ``path`` to build it under before it is moved into place:
    ``<dir>/.<name>.<12 hex>.tmp``. Host paths are POSIX paths on either host."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.{secrets.token_hex(_TOKEN_BYTES)}.tmp")


def temporary_pattern(final_name: str) -> re.Pattern[str]:
    """What :func:`temporary_name` makes beside ``final_name``, alone or nested (a host's
    atomic writer building a temporary of a temporary): ``.<name>.<token>.tmp``,
    ``..<name>.<token>.tmp.<token>.tmp``."""
    return re.compile(
        r"\.{1,2}" + re.escape(final_name) + f"{TEMPORARY_SUFFIX}(?:{TEMPORARY_SUFFIX})?"
    )


def stale_temporaries(
    directory: str, final_names: Iterable[str], entries: Mapping[str, float], now: float
) -> tuple[str, ...]:
    """The temporaries a killed run left in ``directory`` beside ``final_names`` (our own
    hidden names with a random token, older than :data:`TEMPORARY_MAX_AGE_S`), given
    ``entries``: name -> mtime of what it holds. One still being written is never among them."""
    patterns = [temporary_pattern(name) for name in final_names]
    return tuple(
        posixpath.join(directory, name)
        for name, mtime in sorted(entries.items())
        if now - mtime > TEMPORARY_MAX_AGE_S and any(p.fullmatch(name) for p in patterns)
    )
