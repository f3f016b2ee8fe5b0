"""LocalHost: the hypervisor is this machine; commands run as subprocesses, files are local."""

from __future__ import annotations

import contextlib
import os
import signal
import stat as stat_mod
import subprocess
from collections.abc import Collection, Iterator, Sequence
from typing import BinaryIO

from ..common.tempnames import temporary_name
from ..errors import CommandError, CommandTimeoutError, HostError
from .base import (
    CommandResult,
    FileId,
    FileStat,
    Inode,
    command_timeout,
    readable_kind,
)

__all__ = ["LocalHost"]


class LocalHost:
    """The local machine as a :class:`~pulumi_vigo_vm.hosts.base.Host`. Stateless, thread-safe."""

    @property
    def name(self) -> str:
        return "localhost"

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        limit = command_timeout(timeout)
        try:
            # Its own process group, so expiry kills what the command started as well.
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                process_group=0,
            )
        except FileNotFoundError as exc:
            raise HostError(
                f"{argv[0]} is not installed on localhost; install it (e.g. apt-get install "
                f"qemu-utils) and retry"
            ) from exc
        with proc:
            try:
                stdout, stderr = proc.communicate(timeout=limit)
            except subprocess.TimeoutExpired as exc:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()  # leaving the with block closes the pipes unread
                raise CommandTimeoutError(self.name, argv, limit) from exc
        result = CommandResult(proc.returncode, stdout, stderr)
        if check and proc.returncode != 0:
            raise CommandError(self.name, argv, proc.returncode, stderr)
        return result

    def stat(self, path: str) -> FileStat | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        mode = st.st_mode
        return FileStat(st.st_size, stat_mod.S_IMODE(mode), stat_mod.S_ISREG(mode), st.st_mtime)

    def file_ids(self, paths: Collection[str]) -> dict[str, FileId]:
        found: dict[str, FileId] = {}
        for path in paths:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue  # no such file: no identity
            except OSError:
                found[path] = os.path.realpath(path)  # stat refused (EACCES, ELOOP)
                continue
            found[path] = Inode(st.st_dev, st.st_ino)
        return found

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except FileNotFoundError:
            return []

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        os.makedirs(path, mode=mode, exist_ok=True)

    def write_atomic(self, path: str, data: bytes, mode: int) -> None:
        with self.open_atomic_writer(path, mode) as out:
            out.write(data)

    @contextlib.contextmanager
    def open_atomic_writer(self, path: str, mode: int) -> Iterator[BinaryIO]:
        tmp, fd = _create_temporary(path)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def read_chunks(
        self,
        path: str,
        chunk_size: int = 1 << 20,
        *,
        offset: int = 0,
        block_device: bool = False,
    ) -> Iterator[bytes]:
        fd = self._open_readable(path, block_device)
        with os.fdopen(fd, "rb") as src:
            src.seek(offset)
            while chunk := src.read(chunk_size):
                yield chunk

    def _open_readable(self, path: str, block_device: bool) -> int:
        """A descriptor of ``path`` open for reading, proven a regular file (or block device)
        on the descriptor itself: stat first, so a device is never opened; then an open with
        O_NONBLOCK, which returns at once even for a FIFO with no writer; then fstat, so a
        file swapped in between is refused too."""
        readable_kind(os.stat(path).st_mode, path, self.name, block_device=block_device)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path, flags)
        try:
            readable_kind(os.fstat(fd).st_mode, path, self.name, block_device=block_device)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def remove(self, path: str) -> bool:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def rename_noreplace(self, src: str, dst: str) -> None:
        # link() refuses an existing target (EEXIST -> FileExistsError) atomically; the
        # same semantics SSH hosts get from sftp-server's rename. follow_symlinks=False
        # links a symlink itself, as rename would move it.
        os.link(src, dst, follow_symlinks=False)
        try:
            os.unlink(src)
        except BaseException:
            # Both names now refer to the file: take back the claim rather than leave it.
            with contextlib.suppress(OSError):
                os.unlink(dst)
            raise


_TEMPORARY_ATTEMPTS = 100
"""Fresh names tried when one is taken (as :func:`tempfile.mkstemp` does); with 48 random
bits a second attempt is already vanishingly rare."""


def _create_temporary(path: str) -> tuple[str, int]:
    """Create :func:`~pulumi_vigo_vm.common.tempnames.temporary_name` of ``path``, exclusively
    and readable only by its owner (the caller then chmods it), exactly as
    :func:`tempfile.mkstemp` would create it: a symlink planted at the name is not followed."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _attempt in range(_TEMPORARY_ATTEMPTS):
        tmp = temporary_name(path)
        try:
            return tmp, os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")
