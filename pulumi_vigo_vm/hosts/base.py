"""The one interface through which files and commands on a hypervisor host are reached.

Code that needs qemu-img, a file's bytes or a directory listing receives a :class:`Host`;
it never imports subprocess or paramiko itself. Two implementations exist: the local host
(subprocess and the local filesystem) and an SSH host (paramiko exec and SFTP).
"""

from __future__ import annotations

import stat as stat_mod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple, Protocol

from ..errors import NotRegularFileError

__all__ = [
    "COMMAND_TIMEOUT",
    "CommandResult",
    "FileId",
    "FileStat",
    "Host",
    "Inode",
    "command_timeout",
    "read_bounded",
    "readable_kind",
]

COMMAND_TIMEOUT = 300.0
"""Seconds a host command may run when the caller names no timeout. Generous for what we
run (qemu-img on metadata, sha256sum of an artifact), yet a hung NFS mount or a wedged
qemu-img ends in an error instead of a provider thread blocked forever."""


def command_timeout(timeout: float | None) -> float:
    """The limit a ``Host.run`` call gets: ``timeout``, else :data:`COMMAND_TIMEOUT` (read at
    call time). There is no "unbounded": a caller that needs longer names a longer limit."""
    limit = COMMAND_TIMEOUT if timeout is None else timeout
    if not limit > 0:
        raise ValueError(f"command timeout must be a positive number of seconds, not {limit!r}")
    return limit


@dataclass(frozen=True)
class CommandResult:
    """What a finished command printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class FileStat:
    """The few facts about a file that convergence decisions need."""

    size: int
    mode: int
    is_file: bool
    mtime: float = 0.0


class Inode(NamedTuple):
    """A file's identity on its host, as stat gives it: what every spelling of the file
    shares (a symlink, ``..``, a bind-mounted path, a hard link). Comparable only between
    files of one host."""

    device: int
    inode: int


FileId = Inode | str
"""Which file a path names on its host: its :class:`Inode` where stat answers, else its
resolved path (symlinks and ``..`` followed by the host's realpath), which still unites
every spelling but a hard link or a bind mount."""


class Host(Protocol):
    """A hypervisor host: run commands, read and write files. Implementations are thread-safe."""

    @property
    def name(self) -> str:
        """A short human name for messages ("localhost", "root@hv1:22")."""
        ...

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        """Run ``argv`` (no shell). Raises CommandError on a non-zero exit when ``check``.

        Every command is bounded: after ``timeout`` seconds (:data:`COMMAND_TIMEOUT` when
        None) it and the processes it started are killed and CommandTimeoutError is raised.
        """
        ...

    def stat(self, path: str) -> FileStat | None:
        """Facts about ``path``, or None when it does not exist."""
        ...

    def file_ids(self, paths: Collection[str]) -> dict[str, FileId]:
        """Which file each of ``paths`` names (symlinks followed), asked of the host in one
        go: one stat per path, never one command per path. A path that names no file (or
        that neither stat nor realpath can answer for) is absent from the result.

        For "is this file in use": two paths name one file when their ids are equal."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Names in directory ``path`` (empty when it does not exist)."""
        ...

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        """Create ``path`` and its parents if missing."""
        ...

    def write_atomic(self, path: str, data: bytes, mode: int) -> None:
        """Write ``data`` to a temporary name in ``path``'s directory, chmod, then rename.

        A reader never sees a partial file; a failure leaves no temporary file behind.
        """
        ...

    def open_atomic_writer(self, path: str, mode: int) -> AbstractContextManager[BinaryIO]:
        """A writable stream that lands at ``path`` by rename only if the block succeeds."""
        ...

    def read_chunks(
        self,
        path: str,
        chunk_size: int = 1 << 20,
        *,
        offset: int = 0,
        block_device: bool = False,
    ) -> Iterator[bytes]:
        """Stream ``path``'s bytes, from ``offset`` on (a log's tail, a boot's output).

        Only a regular file is read (or a block device, with ``block_device``): anything
        else raises NotRegularFileError before a byte is read, the kind checked on the open
        file itself (see :func:`readable_kind`), so no reader can block on a FIFO planted
        at a path or stream a device for ever. No file at ``path``: FileNotFoundError,
        before the first chunk (so a reader needs no stat of its own to tell it)."""
        ...

    def chmod(self, path: str, mode: int) -> None:
        """Set ``path``'s permission bits."""
        ...

    def remove(self, path: str) -> bool:
        """Delete the file ``path``. Returns False when it did not exist."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Atomically rename ``src`` to ``dst`` on the host (replacing ``dst``)."""
        ...

    def rename_noreplace(self, src: str, dst: str) -> None:
        """Atomically move the file ``src`` to ``dst`` only if ``dst`` does not exist.

        For exclusive creation: build a file under a temporary name, then claim its real
        name with this; of two writers racing for one name exactly one wins, and the other
        gets FileExistsError with its ``src`` left in place for it to remove. Regular files
        only (both implementations use a hard link, as OpenSSH's sftp-server does).
        """
        ...


_KINDS = (
    (stat_mod.S_ISREG, "regular file"),
    (stat_mod.S_ISBLK, "block device"),
    (stat_mod.S_ISDIR, "directory"),
    (stat_mod.S_ISFIFO, "FIFO"),
    (stat_mod.S_ISCHR, "character device"),
    (stat_mod.S_ISSOCK, "socket"),
    (stat_mod.S_ISLNK, "symbolic link"),
)


def readable_kind(st_mode: int, path: str, host: str, *, block_device: bool) -> str:
    """The kind of the file whose ``st_mode`` this is ("regular file", "block device"),
    when it may be read; else NotRegularFileError naming ``path`` and what it is.

    The one rule of both hosts' ``read_chunks``: checked before the open (so a device is
    never opened) and again on the open file (so a file swapped in between is caught)."""
    kind = next((name for test, name in _KINDS if test(st_mode)), "special file")
    allowed = ("regular file", "block device") if block_device else ("regular file",)
    if kind not in allowed:
        raise NotRegularFileError(host, path, kind, " or ".join(allowed))
    return kind


def read_bounded(
    host: Host, path: str, limit: int, offset: int = 0, *, block_device: bool = False
) -> bytes:
    """At most ``limit`` bytes of ``path`` from ``offset``: how untrusted files (seeds, console
    logs, the neighbour table, headers a guest may have written) are read, never whole.
    A regular file only (or a block device, with ``block_device``): see ``read_chunks``."""
    data = bytearray()
    for chunk in host.read_chunks(
        path, min(limit, 1 << 20), offset=offset, block_device=block_device
    ):
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])
