"""SshHost: the :class:`~pulumi_vigo_vm.hosts.base.Host` operations on a host reached over SSH.

Commands run over exec channels (:mod:`.commands`); everything else is SFTP, on the host's
shared channels (:mod:`.sftp_pool`): an exec channel starts a login shell on the host
(~100 ms), while an SFTP request on an open channel is one round trip. So ``stat``,
``listdir``, ``makedirs``, ``remove``, ``rename``, reads and atomic writes (:mod:`.atomic`)
are all SFTP. Each operation says whether repeating it after a lost connection is harmless:
only those are retried (once), so a retry never reports a wrong answer, such as "absent"
for a file the first attempt removed before its reply was lost.

Get hosts from :func:`~.registry.ssh_host_for_uri`: one per target for the whole process.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import stat as stat_mod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import BinaryIO, cast

import paramiko
from paramiko.sftp_file import SFTPFile

from ...errors import HostUnreachableError
from ..base import CommandResult, FileId, FileStat, Inode, readable_kind
from . import atomic
from ._paramiko import close_without_waiting
from .commands import CommandRunner
from .destination import SshTarget, resolve_ssh_target
from .sftp_pool import SftpPool
from .transport import SshConnection

__all__ = ["IDENTITY_BATCH_BYTES", "READ_REQUEST_BYTES", "SshHost"]

IDENTITY_BATCH_BYTES = 64 * 1024
"""Bytes of quoted path names per ``stat`` command when identities are asked: the command
line travels in one SSH packet (sshd takes 256 KiB) and must fit the host's argument
limit, yet a whole listing is one command."""
READ_REQUEST_BYTES = 255 * 1024
"""Bytes asked per SFTP read request: OpenSSH's sftp-server answers up to this much
(``SFTP_MAX_READ_LENGTH``; older ones 64 KiB); a server may answer less, and paramiko then
asks for the rest, as the protocol allows."""
IDENTITY_TIMEOUT = 60.0
"""Seconds a ``stat`` of a batch of paths may take: metadata only, yet a hung mount ends."""


class SshHost:
    """A :class:`~pulumi_vigo_vm.hosts.base.Host` over one shared paramiko transport.

    Thread-safe. Connects on first use; get instances from :func:`ssh_host_for_uri`.
    """

    def __init__(self, target: SshTarget) -> None:
        self.target = target
        self.connection = SshConnection(target)
        """The host's one transport (a jump host's is shared with the hosts behind it)."""
        self._sftp = SftpPool(self.connection)
        self._commands = CommandRunner(self.connection)

    @classmethod
    def from_uri(cls, uri: str) -> SshHost:
        """A new, uncached host for ``uri`` (tests; production code uses ssh_host_for_uri)."""
        return cls(resolve_ssh_target(uri))

    @property
    def name(self) -> str:
        return self.target.name

    def close(self) -> None:
        """Close SFTP channels and the transport. The host reconnects if used again."""
        self._sftp.close()
        self.connection.close()

    # ------------------------------------------------------------------ Host: commands

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        return self._commands.run(argv, check=check, timeout=timeout)

    def open_stream(self, command: str) -> paramiko.Channel:
        """A channel running ``command`` with its stdin open: a byte pipe to a remote program.

        For long-lived conversations (libvirt's RPC stream rides on one for the whole run), so
        it is not counted against the budget of concurrently running commands.
        """
        return self._commands.open_stream(command)

    # ------------------------------------------------------------------ Host: files

    def stat(self, path: str) -> FileStat | None:
        def op(sftp: paramiko.SFTPClient) -> FileStat | None:
            try:
                st = sftp.stat(path)
            except FileNotFoundError:
                return None
            mode = st.st_mode or 0
            return FileStat(
                st.st_size or 0,
                stat_mod.S_IMODE(mode),
                stat_mod.S_ISREG(mode),
                float(st.st_mtime or 0),
            )

        return self._sftp.call(f"stat {path}", op)

    def file_ids(self, paths: Collection[str]) -> dict[str, FileId]:
        """SFTP's stat carries no device or inode, so identities come from ``stat -L`` run
        on the host: one command per :data:`IDENTITY_BATCH_BYTES` of names (an exec channel
        costs a login, an SFTP request a round trip). Where that command cannot answer (it
        failed as a whole, or a name holds a newline and so would not print as one line),
        SFTP's realpath gives the resolved path instead."""
        unique = list(dict.fromkeys(paths))
        asked = [path for path in unique if "\n" not in path]
        unanswered = [path for path in unique if "\n" in path]
        found: dict[str, FileId] = {}
        for batch in _batches(asked, IDENTITY_BATCH_BYTES):
            argv = ["stat", "-L", "-c", "%d %i %n", "--", *batch]
            result = self.run(argv, check=False, timeout=IDENTITY_TIMEOUT)
            if result.returncode in (0, 1):  # 1: some of them name no file
                found.update(_parse_identities(result.stdout, batch))
            else:
                unanswered += batch
        for path in unanswered:
            resolved = self._realpath(path)
            if resolved is not None:
                found[path] = resolved
        return found

    def _realpath(self, path: str) -> str | None:
        def op(sftp: paramiko.SFTPClient) -> str | None:
            try:
                return str(sftp.normalize(path))
            except OSError:  # ENOENT, EACCES: realpath cannot tell either
                return None

        return self._sftp.call(f"realpath {path}", op)

    def listdir(self, path: str) -> list[str]:
        def op(sftp: paramiko.SFTPClient) -> list[str]:
            try:
                return cast(list[str], sftp.listdir(path))
            except FileNotFoundError:
                return []

        return self._sftp.call(f"listdir {path}", op)

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            _sftp_makedirs(sftp, path, mode)

        self._sftp.call(f"makedirs {path}", op)

    def chmod(self, path: str, mode: int) -> None:
        self._sftp.call(f"chmod {path}", lambda sftp: sftp.chmod(path, mode))

    def remove(self, path: str) -> bool:
        def op(sftp: paramiko.SFTPClient) -> bool:
            try:
                sftp.remove(path)
            except FileNotFoundError:
                return False
            return True

        # Not retried: if the first attempt removed the file before the reply was lost, a
        # retry would report False for a file that did exist.
        return self._sftp.call(f"remove {path}", op, retry=False)

    def rename(self, src: str, dst: str) -> None:
        # Not retried: a rename that happened before the reply was lost fails on retry.
        # posix-rename@openssh.com is rename(2); plain SSH_FXP_RENAME would not replace dst.
        self._sftp.call(
            f"rename {src} to {dst}", lambda sftp: sftp.posix_rename(src, dst), retry=False
        )

    def rename_noreplace(self, src: str, dst: str) -> None:
        """SFTP's plain SSH_FXP_RENAME: OpenSSH's sftp-server does link() + unlink() for a
        regular file, so it fails, atomically, when ``dst`` exists."""

        def op(sftp: paramiko.SFTPClient) -> bool:
            try:
                sftp.rename(src, dst)
                return True
            except OSError as exc:
                # SFTPv3 has no "exists" status: the refusal arrives as a bare "Failure"
                # (no errno; a missing src or EACCES do carry one). Is dst what stopped it?
                if exc.errno is not None:
                    raise
                refusal = exc
            try:
                sftp.lstat(dst)
            except FileNotFoundError:
                raise refusal from None
            return False

        # Not retried: a move whose reply was lost would look like "dst exists" on retry.
        if not self._sftp.call(f"rename {src} to {dst} (no replace)", op, retry=False):
            raise FileExistsError(errno.EEXIST, f"{dst} exists on {self.name}", dst)

    def write_atomic(self, path: str, data: bytes, mode: int) -> None:
        atomic.write_atomic(self._sftp, path, data, mode)

    def open_atomic_writer(self, path: str, mode: int) -> AbstractContextManager[BinaryIO]:
        return atomic.open_atomic_writer(self._sftp, path, mode)

    def read_chunks(
        self,
        path: str,
        chunk_size: int = 1 << 20,
        *,
        offset: int = 0,
        block_device: bool = False,
    ) -> Iterator[bytes]:
        """Stream ``path`` from ``offset``; on a dropped connection, reconnect once and resume
        where the stream was.

        Each chunk is one locked SFTP call on the channel that opened the file, so other
        threads' requests interleave with a long read instead of waiting for all of it.
        The file's kind is checked by a stat before the open (sftp-server would block in
        open() on a FIFO, stalling its whole channel) and by an fstat of the open handle;
        that stat also tells a missing file (FileNotFoundError, as locally), so a reader
        needs no stat of its own first. A regular file is read up to the size its open
        handle reports, when it reports one (what a writer appends meanwhile is the next
        read's; a file of procfs, which says 0, to its end), in requests of
        :data:`READ_REQUEST_BYTES` (paramiko's 32 KiB would make a 64 KiB header two round
        trips); a chunk shorter than asked ends the stream (paramiko returns one only at
        the end of the file). So no request is made only to hear "end of file".
        """

        def kind(sftp: paramiko.SFTPClient) -> int | None:
            try:
                return sftp.stat(path).st_mode or 0
            except FileNotFoundError:
                return None

        mode = self._sftp.call(f"stat {path}", kind)
        if mode is None:
            raise FileNotFoundError(errno.ENOENT, f"no file {path} on {self.name}", path)
        readable_kind(mode, path, self.name, block_device=block_device)
        for attempt in (1, 2):
            slot = self._sftp.pick_slot()
            try:
                remote, generation = self._sftp.call_in_slot(
                    slot, f"read {path}", partial(_open_at, path=path, offset=offset)
                )
            except HostUnreachableError:
                if attempt == 2:
                    raise
                continue
            finally:
                slot.lock.release()
            try:
                with slot.lock:
                    mode, size = self._sftp.on_handle(
                        slot, generation, f"fstat {path}", partial(_handle_stat, remote)
                    )
                readable_kind(mode, path, self.name, block_device=block_device)
                # procfs reports 0 for a file that has content: read that one to its end
                end = size if stat_mod.S_ISREG(mode) and size > 0 else None
                while end is None or offset < end:
                    want = chunk_size if end is None else min(chunk_size, end - offset)
                    with slot.lock:
                        chunk: bytes = self._sftp.on_handle(
                            slot, generation, f"read {path}", partial(remote.read, want)
                        )
                    offset += len(chunk)
                    if chunk:
                        yield chunk
                    if len(chunk) < want:
                        return
                return
            except HostUnreachableError:
                if attempt == 2:
                    raise
            finally:
                with slot.lock, contextlib.suppress(Exception):
                    if slot.client is not None and slot.generation == generation:
                        close_without_waiting(remote)


def _batches(paths: Sequence[str], limit: int) -> Iterator[list[str]]:
    """``paths`` in order, cut where their quoted names would pass ``limit`` bytes."""
    batch: list[str] = []
    size = 0
    for path in paths:
        quoted = len(shlex.quote(path).encode()) + 1
        if batch and size + quoted > limit:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += quoted
    if batch:
        yield batch


def _parse_identities(out: str, asked: Collection[str]) -> dict[str, FileId]:
    """The identities ``stat -L -c '%d %i %n'`` printed for ``asked``: one line per path
    that names a file (none for the others), its name last and verbatim."""
    wanted = set(asked)
    found: dict[str, FileId] = {}
    for line in out.split("\n"):
        device, _, rest = line.partition(" ")
        inode, _, path = rest.partition(" ")
        if path in wanted and device.isdigit() and inode.isdigit():
            found[path] = Inode(int(device), int(inode))
    return found


def _open_at(sftp: paramiko.SFTPClient, path: str, offset: int) -> SFTPFile:
    remote = sftp.open(path, "rb")
    remote.MAX_REQUEST_SIZE = READ_REQUEST_BYTES
    if offset:
        remote.seek(offset)
    return cast(SFTPFile, remote)


def _handle_stat(remote: SFTPFile) -> tuple[int, int]:
    """The st_mode and size of an open remote file (SSH_FXP_FSTAT)."""
    st = remote.stat()
    return st.st_mode or 0, st.st_size or 0


def _sftp_makedirs(sftp: paramiko.SFTPClient, path: str, mode: int) -> None:
    """``mkdir -p`` in SFTP requests: stat upwards to the first existing ancestor, then mkdir."""
    missing: list[str] = []
    current = path.rstrip("/") or "/"
    while True:
        try:
            st = sftp.stat(current)
        except FileNotFoundError:
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
            continue
        if not stat_mod.S_ISDIR(st.st_mode or 0):
            raise FileExistsError(errno.EEXIST, f"{current} exists and is not a directory")
        break
    for directory in reversed(missing):
        # Only the leaf gets ``mode``, as os.makedirs does since Python 3.7.
        try:
            sftp.mkdir(directory, mode if directory == missing[0] else 0o777)
        except OSError:
            # SFTPv3 reports EEXIST as a bare failure: another thread may have won the race.
            st = sftp.stat(directory)
            if not stat_mod.S_ISDIR(st.st_mode or 0):
                raise
