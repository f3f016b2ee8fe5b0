"""The digest record beside a placed base image: ``<path>.sha256``.

Why: re-hashing a multi-GiB base on every ``pulumi up`` costs seconds per image (and a
full transfer over SSH where the host lacks coreutils); with the record, knowing that the
file is the declared one is a stat and a small read, as the curator does it
(:func:`pulumi_vigo_vm.curator.materialise.materialise`). The record says two things: the
digest of the file as stored (a ``sha256sum`` line, so ``sha256sum -c <path>.sha256``
checks the file on the host) and, on comment lines ``sha256sum`` skips, the digest of the
bytes as published and the source they came from (they differ for a compressed source),
and the resource instance that placed the file: its ID, so the delete of an instance being
replaced never removes the file its replacement took over (the same host reached through
another URI).

The record's name is not ours by being beside our file: the operator may keep their own
``sha256sum`` output there, or it may be another base's record. It is a side file
(:mod:`pulumi_vigo_vm.hostfile.side`): made exclusively, replaced and removed only when its
content is a record of ours naming this path (:func:`is_ours`); anything else there is
refused before the download (:func:`require_ours_or_free`) and left alone.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from dataclasses import dataclass

from ..hostfile.side import Ours, remove_side, require_side, write_side
from ..hosts.base import Host, read_bounded

__all__ = [
    "RECORD_MODE",
    "Record",
    "is_ours",
    "new_instance",
    "read_record",
    "record_path",
    "remove_record",
    "require_ours_or_free",
    "write_record",
]

RECORD_MODE = 0o644
_MAX_RECORD_BYTES = 16384
_STORED = re.compile(r"([0-9a-f]{64})  (.*)")
_PUBLISHED = re.compile(r"# published ([0-9a-f]{64}) (\S+)")
_INSTANCE = re.compile(r"# instance ([0-9a-f]{16})")


@dataclass(frozen=True)
class Record:
    """What the record says about the file beside it."""

    stored: str
    published: str
    source: str
    instance: str
    """The ID of the resource instance that placed (or adopted) the file."""


def new_instance() -> str:
    """A fresh instance ID (16 hex digits)."""
    return secrets.token_hex(8)


def record_path(path: str) -> str:
    return path + ".sha256"


def encode(path: str, record: Record) -> bytes:
    """The record's text for the file at ``path``."""
    name = posixpath.basename(path)
    return (
        f"{record.stored}  {name}\n# published {record.published} {record.source}\n"
        f"# instance {record.instance}\n"
    ).encode()


def decode(data: bytes) -> tuple[str, Record] | None:
    """The file name the record in ``data`` is for, and the record; None when it is none
    we wrote."""
    lines = data.decode("utf-8", "replace").splitlines()
    if len(lines) != 3:
        return None
    stored, published = _STORED.fullmatch(lines[0]), _PUBLISHED.fullmatch(lines[1])
    instance = _INSTANCE.fullmatch(lines[2])
    if stored is None or published is None or instance is None:
        return None
    record = Record(stored.group(1), published.group(1), published.group(2), instance.group(1))
    return stored.group(2), record


def is_ours(path: str) -> Ours:
    """Whether a side file's content is a record of ours for the file at ``path`` (our
    three-line format, naming that file): the test before a record is replaced or
    removed."""
    name = posixpath.basename(path)

    def ours(data: bytes) -> bool:
        decoded = decode(data)
        return decoded is not None and decoded[0] == name

    return ours


def read_record(host: Host, path: str) -> Record | None:
    """The record beside ``path``, or None when there is none (or none of ours)."""
    sidecar = record_path(path)
    stat = host.stat(sidecar)
    if stat is None or not stat.is_file:
        return None
    decoded = decode(read_bounded(host, sidecar, _MAX_RECORD_BYTES))
    if decoded is None or decoded[0] != posixpath.basename(path):
        return None
    return decoded[1]


_FIX = "move it away (or choose another path); the base's record is kept in that name"


def require_ours_or_free(host: Host, path: str) -> None:
    """Refuse (NotOwnedError) a file at the record's name that is not a record of ours:
    asked before anything is downloaded or claimed."""
    require_side(host, record_path(path), is_ours(path), _FIX)


def write_record(host: Host, path: str, record: Record) -> None:
    """Write the record beside ``path`` (atomically; over a record of ours only)."""
    write_side(host, record_path(path), encode(path, record), RECORD_MODE, is_ours(path), _FIX)


def remove_record(host: Host, path: str) -> bool:
    """Remove the record beside ``path`` when it is ours; anything else there stays."""
    return remove_side(host, record_path(path), is_ours(path))
