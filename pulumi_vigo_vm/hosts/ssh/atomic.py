"""Atomic writes over SFTP: a temporary beside the target, fsync, chmod, rename.

The SSH side of :meth:`~pulumi_vigo_vm.hosts.base.Host.write_atomic` and
``open_atomic_writer``, the same recipe as LocalHost's: the temporary is named by
:func:`~pulumi_vigo_vm.common.tempnames.temporary_name` (so a killed run's leftovers are
recognisable), created exclusively and private (0600) in the OPEN request, chmodded to its
final mode, written with pipelined requests, flushed and fsynced (``fsync@openssh.com``),
then moved over the target with ``posix-rename@openssh.com`` (rename(2); plain SFTP rename
would not replace it). On any failure the temporary is removed, over a new connection if
the old one died. A reader never sees a partial file.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import paramiko
from paramiko.sftp_file import SFTPFile

from ...common.tempnames import temporary_name
from ._paramiko import create_private, fsync
from .sftp_pool import SftpPool, SftpSlot

__all__ = ["open_atomic_writer", "write_atomic"]


def write_atomic(pool: SftpPool, path: str, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` by a temporary beside it (see Host.write_atomic), in one
    SFTP call: retried once over a new connection, the stranded temporary removed first."""
    leftovers: list[str] = []

    def op(sftp: paramiko.SFTPClient) -> None:
        # A temporary file stranded by a connection that died in attempt 1 is removed
        # over the new connection before trying again.
        while leftovers:
            with contextlib.suppress(OSError):
                sftp.remove(leftovers.pop())
        tmp = temporary_name(path)
        leftovers.append(tmp)
        remote = _create_exclusive(sftp, tmp, mode)
        try:
            remote.write(data)
            _finish_write(remote)
            sftp.posix_rename(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                remote.close()
            with contextlib.suppress(Exception):
                sftp.remove(tmp)
            raise
        leftovers.clear()

    pool.call(f"write {path}", op)


@contextlib.contextmanager
def open_atomic_writer(pool: SftpPool, path: str, mode: int) -> Iterator[BinaryIO]:
    """A stream to a temporary beside ``path``, renamed onto it when the block succeeds."""
    tmp = temporary_name(path)
    slot = pool.pick_slot()
    try:
        remote, generation = pool.call_in_slot(
            slot, f"create {tmp}", lambda sftp: _create_exclusive(sftp, tmp, mode)
        )
    finally:
        slot.lock.release()
    writer = _RemoteWriter(pool, slot, generation, remote, path)
    try:
        yield cast(BinaryIO, writer)

        def finish() -> None:
            _finish_write(remote)
            remote.sftp.posix_rename(tmp, path)

        with slot.lock:
            pool.on_handle(slot, generation, f"write {path}", finish)
    except BaseException:
        with slot.lock, contextlib.suppress(Exception):
            remote.close()
        # Over a new connection if the old one died; best effort, the error that got us
        # here is the one to report.
        with contextlib.suppress(Exception):
            pool.call(f"remove {tmp}", lambda sftp: sftp.remove(tmp), retry=False)
        raise
    finally:
        writer.closed_by_owner()


def _create_exclusive(sftp: paramiko.SFTPClient, path: str, mode: int) -> SFTPFile:
    """Create ``path`` (must not exist) readable only by its owner, then chmod it to ``mode``.

    paramiko's ``open`` creates files with the server's default mode (0666 & umask), which
    would leave a window in which cloud-init secrets are world-readable; passing the
    permissions in the OPEN request itself, as LocalHost's ``os.open`` does, closes it.
    """
    remote = create_private(sftp, path)
    remote.set_pipelined(True)  # writes do not wait for each acknowledgement
    remote.chmod(mode)
    return remote


def _finish_write(remote: SFTPFile) -> None:
    """Flush, fsync (where the server offers it) and close ``remote``.

    The rename that follows must not expose a file whose bytes are still only in the page
    cache of a host that then crashes.
    """
    remote.flush()
    fsync(remote)  # fsync@openssh.com unsupported: best effort
    remote.close()


class _RemoteWriter(io.BufferedIOBase):
    """The stream ``open_atomic_writer`` hands out: each write holds its SFTP channel's lock.

    Only the owning context manager finishes (flush, fsync, rename) or discards the file;
    ``close()`` by the caller just stops further writes.
    """

    def __init__(
        self, pool: SftpPool, slot: SftpSlot, generation: int, remote: SFTPFile, path: str
    ) -> None:
        super().__init__()
        self._pool = pool
        self._slot = slot
        self._generation = generation
        self._remote = remote
        self._path = path

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"write to {self._path} after its atomic writer was closed")
        view = bytes(data)
        remote = self._remote
        with self._slot.lock:
            self._pool.on_handle(
                self._slot, self._generation, f"write {self._path}", lambda: remote.write(view)
            )
        return len(view)

    def closed_by_owner(self) -> None:
        """Refuse further writes (the context manager has renamed or removed the file)."""
        super().close()
