"""MemoryHost: a hypervisor whose files live in a dict, for unit tests of effect logic.

What it is for: the decisions that act on files (claims and sidecars, side files, sweeps
of temporaries, refusals before anything is written) run against a
:class:`~pulumi_vigo_vm.hosts.base.Host`; with this one they run in microseconds, without
root, libvirtd or a disk. It keeps what those decisions can observe: regular files with
bytes, mode, mtime and an inode (kept across renames, shared by hard links), directories,
and special files (a FIFO, a socket) that are stat-able but never readable. It raises what
:class:`~pulumi_vigo_vm.hosts.local.LocalHost` raises (FileNotFoundError,
FileExistsError, NotADirectoryError, NotRegularFileError).

What it is not: a place to run anything. ``run`` raises HostError naming the command, so a
test that reaches qemu-img by mistake fails loudly instead of passing on a pretend answer;
such behaviour is tested on the real hosts (tests/ssh runs every Host test on both).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import posixpath
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from ..common.tempnames import temporary_name
from ..errors import HostError
from .base import CommandResult, FileId, FileStat, Inode, readable_kind

__all__ = ["MemoryHost"]

_DEVICE = 0
"""The one device every file of a MemoryHost is on."""


@dataclass
class _Node:
    """One file: what ``stat`` sees, and its bytes (regular files only)."""

    inode: int
    kind: int  # the S_IFMT bits: S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK
    mode: int
    mtime: float
    data: bytes = b""


class MemoryHost:
    """An in-memory :class:`~pulumi_vigo_vm.hosts.base.Host`: POSIX paths, no symlinks, no
    commands. Thread-safe (one lock). ``clock`` gives the mtime of what is written (a test
    passes its own to age files)."""

    def __init__(self, name: str = "memory", clock: Callable[[], float] = time.time) -> None:
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._inodes = itertools.count(2)
        self._nodes: dict[str, _Node] = {"/": self._node(stat_mod.S_IFDIR, 0o755)}

    # ------------------------------------------------------------------ test set-up

    def put(self, path: str, data: bytes = b"", mode: int = 0o644) -> None:
        """A regular file at ``path`` (its parents made), as if someone else wrote it."""
        with self._lock:
            self._mkdirs(posixpath.dirname(path), 0o755)
            self._nodes[path] = self._node(stat_mod.S_IFREG, mode, data)

    def put_special(self, path: str, kind: int = stat_mod.S_IFIFO) -> None:
        """A FIFO (or socket, with ``stat.S_IFSOCK``) at ``path``: stat-able, never read."""
        with self._lock:
            self._mkdirs(posixpath.dirname(path), 0o755)
            self._nodes[path] = self._node(kind, 0o644)

    def link(self, src: str, dst: str) -> None:
        """A hard link: ``dst`` names the same file as ``src`` (same id, same bytes)."""
        with self._lock:
            self._parent(dst)
            if dst in self._nodes:
                raise FileExistsError(dst)
            self._nodes[dst] = self._file(src)

    def set_mtime(self, path: str, mtime: float) -> None:
        """Age (or rejuvenate) a file, as a killed run's leftovers are aged."""
        with self._lock:
            self._existing(path).mtime = mtime

    def read(self, path: str) -> bytes:
        """The bytes of the regular file at ``path`` (FileNotFoundError when there is none)."""
        with self._lock:
            return self._file(path).data

    def paths(self) -> list[str]:
        """Every path but the directories, sorted: what a test compares before and after."""
        with self._lock:
            return sorted(p for p, n in self._nodes.items() if n.kind != stat_mod.S_IFDIR)

    # ------------------------------------------------------------------ the Host interface

    @property
    def name(self) -> str:
        return self._name

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        raise HostError(
            f"{self._name} is an in-memory host and runs no commands (asked for {list(argv)!r});"
            " test what needs a command against LocalHost or SshHost"
        )

    def stat(self, path: str) -> FileStat | None:
        with self._lock:
            node = self._nodes.get(_normal(path))
            if node is None:
                return None
            is_file = node.kind == stat_mod.S_IFREG
            return FileStat(len(node.data), node.mode, is_file, node.mtime)

    def file_ids(self, paths: Collection[str]) -> dict[str, FileId]:
        with self._lock:
            return {
                path: Inode(_DEVICE, self._nodes[_normal(path)].inode)
                for path in paths
                if _normal(path) in self._nodes
            }

    def listdir(self, path: str) -> list[str]:
        with self._lock:
            directory = _normal(path)
            node = self._nodes.get(directory)
            if node is None:
                return []
            if node.kind != stat_mod.S_IFDIR:
                raise NotADirectoryError(path)
            return [
                posixpath.basename(p)
                for p in self._nodes
                if p != "/" and posixpath.dirname(p) == directory
            ]

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        with self._lock:
            self._mkdirs(_normal(path), mode)

    def write_atomic(self, path: str, data: bytes, mode: int) -> None:
        with self.open_atomic_writer(path, mode) as out:
            out.write(data)

    @contextlib.contextmanager
    def open_atomic_writer(self, path: str, mode: int) -> Iterator[BinaryIO]:
        temporary = temporary_name(path)
        with self._lock:
            self._parent(temporary)
            self._nodes[temporary] = self._node(stat_mod.S_IFREG, 0o600)
        buffer = io.BytesIO()
        try:
            yield buffer
            with self._lock:
                node = self._file(temporary)
                node.data, node.mode, node.mtime = buffer.getvalue(), mode, self._clock()
                self._nodes[_normal(path)] = self._nodes.pop(temporary)
        except BaseException:
            with self._lock:
                self._nodes.pop(temporary, None)
            raise

    def read_chunks(
        self,
        path: str,
        chunk_size: int = 1 << 20,
        *,
        offset: int = 0,
        block_device: bool = False,
    ) -> Iterator[bytes]:
        with self._lock:
            node = self._existing(path)
            readable_kind(node.kind | node.mode, path, self._name, block_device=block_device)
            data = node.data
        for start in range(offset, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def chmod(self, path: str, mode: int) -> None:
        with self._lock:
            self._existing(path).mode = mode

    def remove(self, path: str) -> bool:
        with self._lock:
            node = self._nodes.get(_normal(path))
            if node is None:
                return False
            if node.kind == stat_mod.S_IFDIR:
                raise IsADirectoryError(path)
            del self._nodes[_normal(path)]
            return True

    def rename(self, src: str, dst: str) -> None:
        with self._lock:
            node = self._existing(src)
            self._parent(dst)
            self._nodes[_normal(dst)] = node
            del self._nodes[_normal(src)]

    def rename_noreplace(self, src: str, dst: str) -> None:
        with self._lock:
            node = self._existing(src)
            self._parent(dst)
            if _normal(dst) in self._nodes:
                raise FileExistsError(dst)
            self._nodes[_normal(dst)] = node
            del self._nodes[_normal(src)]

    # ------------------------------------------------------------------ under the lock

    def _node(self, kind: int, mode: int, data: bytes = b"") -> _Node:
        return _Node(next(self._inodes), kind, mode, self._clock(), data)

    def _existing(self, path: str) -> _Node:
        node = self._nodes.get(_normal(path))
        if node is None:
            raise FileNotFoundError(path)
        return node

    def _file(self, path: str) -> _Node:
        node = self._existing(path)
        if node.kind != stat_mod.S_IFREG:
            raise IsADirectoryError(path) if node.kind == stat_mod.S_IFDIR else OSError(path)
        return node

    def _parent(self, path: str) -> None:
        """Raise as the OS does when ``path``'s directory is missing or not a directory."""
        parent = self._nodes.get(posixpath.dirname(_normal(path)))
        if parent is None:
            raise FileNotFoundError(path)
        if parent.kind != stat_mod.S_IFDIR:
            raise NotADirectoryError(path)

    def _mkdirs(self, path: str, mode: int, *, leaf: bool = True) -> None:
        if path in ("", "/"):
            return
        node = self._nodes.get(path)
        if node is not None:
            if node.kind != stat_mod.S_IFDIR:
                raise FileExistsError(path) if leaf else NotADirectoryError(path)
            return
        self._mkdirs(posixpath.dirname(path), 0o755, leaf=False)
        self._parent(path)
        self._nodes[path] = self._node(stat_mod.S_IFDIR, mode)


def _normal(path: str) -> str:
    """``path`` without a trailing slash or ``.`` parts: one key per file."""
    return posixpath.normpath(path) if path else path
