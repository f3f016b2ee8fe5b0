"""A host's few shared SFTP channels, each request under its channel's lock, retried once.

paramiko's ``SFTPClient`` must not be used by two threads at once (a thread waiting for its
reply may consume another's). So a host keeps :data:`SFTP_CHANNELS` channels, opened on
demand on the shared transport, and each *request* holds its channel's lock; nothing holds
a lock across a ``yield`` or a caller's ``with`` block, so a thread copying a file from one
path of a host to another (a reader and a writer at once) cannot deadlock others.

Errors are sorted here, once: an SFTP status reply (ENOENT, EACCES, "Failure") becomes a
:class:`~pulumi_vigo_vm.errors.HostError` naming the action and the host; a dead channel or
transport drops the connection and, when repeating the request is harmless, it is retried
once over a new one. A file handle belongs to one channel, so an operation on an open
remote file is never retried: once its channel was replaced, it fails as unreachable.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

import paramiko

from ...errors import HostError, HostUnreachableError
from .transport import SFTP_CHANNELS, SshConnection

__all__ = ["CHANNEL_TIMEOUT", "SftpPool", "SftpSlot"]

_T = TypeVar("_T")

CHANNEL_TIMEOUT = 300.0
"""Seconds an SFTP request may go unanswered before the connection is declared dead."""


class SftpSlot:
    """One SFTP channel and the lock that serialises its requests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.client: paramiko.SFTPClient | None = None
        self.generation = -1


class _Lost(Exception):
    """Internal: the connection died while opening an SFTP channel (cause attached)."""


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the transport or channel is gone (rather than an SFTP status).

    SFTP status replies arrive as OSError with an errno (ENOENT, EACCES) or a bare text
    ("Failure"); paramiko reports a dropped channel as SSHException/EOFError and a closed
    socket as OSError("Socket is closed") or a timeout.
    """
    if isinstance(exc, paramiko.ChannelException):
        return False
    if isinstance(exc, (paramiko.SSHException, EOFError, socket.timeout, ConnectionError)):
        return True
    return isinstance(exc, OSError) and "closed" in str(exc).lower()


def _translate(exc: BaseException, action: str, host: str) -> HostError:
    """One HostError for an SFTP status reply, naming the action, the path and the host."""
    if isinstance(exc, paramiko.ChannelException):
        return HostError(f"{action} on {host}: SSH server refused a session ({exc.text})")
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno)
    else:
        reason = str(exc) or type(exc).__name__
    return HostError(f"{action} failed on {host}: {reason}")


class SftpPool:
    """The SFTP channels of one :class:`~.transport.SshConnection`. Thread-safe."""

    def __init__(self, connection: SshConnection) -> None:
        self._connection = connection
        self._slots = [SftpSlot() for _ in range(SFTP_CHANNELS)]
        self._turn = itertools.count()  # next() is atomic in CPython: no lock needed

    @property
    def name(self) -> str:
        return self._connection.name

    def close(self) -> None:
        """Close every channel (each under its lock). The pool reopens them if used again."""
        for slot in self._slots:
            with slot.lock:
                if slot.client is not None:
                    with contextlib.suppress(Exception):
                        slot.client.close()
                    slot.client = None

    def pick_slot(self) -> SftpSlot:
        """A free SFTP slot if there is one, else the next in turn (whose lock we then wait on).
        The caller holds the slot's lock on return and releases it."""
        for slot in self._slots:
            if slot.lock.acquire(blocking=False):
                return slot
        slot = self._slots[next(self._turn) % len(self._slots)]
        slot.lock.acquire()
        return slot

    def _sftp(self, slot: SftpSlot) -> tuple[paramiko.SFTPClient, int]:
        """The slot's SFTP client on the current transport (caller holds ``slot.lock``)."""
        connection = self._connection
        transport, generation = connection.transport()
        client = slot.client
        if client is not None and slot.generation == generation and not client.sock.closed:
            return client, generation
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            slot.client = None
        try:
            client = connection.open_channel(lambda: paramiko.SFTPClient.from_transport(transport))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            connection.drop(generation)
            raise _Lost(exc) from exc
        if client is None:
            raise HostError(f"SFTP subsystem unavailable on {self.name}")
        client.get_channel().settimeout(CHANNEL_TIMEOUT)
        slot.client, slot.generation = client, generation
        return client, generation

    def call(
        self, action: str, fn: Callable[[paramiko.SFTPClient], _T], *, retry: bool = True
    ) -> _T:
        """Run ``fn`` with an SFTP client; reconnect and retry once if the connection died.

        ``fn`` handles the SFTP statuses it expects (ENOENT, ...); any other error is
        translated here, once. A failure to open the channel is always retried (``fn`` has
        not run); a failure inside ``fn`` only when ``retry`` says repeating it is harmless.
        """
        failure: BaseException | None = None
        for _attempt in (1, 2):
            slot = self.pick_slot()
            try:
                try:
                    client, generation = self._sftp(slot)
                except _Lost as lost:
                    failure = lost.__cause__ or lost
                    continue
                try:
                    return fn(client)
                except Exception as exc:
                    if not (_connection_lost(exc) or client.sock.closed):
                        raise _translate(exc, action, self.name) from exc
                    slot.client = None
                    self._connection.drop(generation)
                    failure = exc
                    if not retry:
                        break
            finally:
                slot.lock.release()
        raise HostUnreachableError(
            f"lost the SSH connection to {self.name} during {action}: {failure}"
        ) from failure

    def call_in_slot(
        self, slot: SftpSlot, action: str, fn: Callable[[paramiko.SFTPClient], _T]
    ) -> tuple[_T, int]:
        """Run ``fn`` on ``slot`` (whose lock the caller holds); translate errors; no retry."""
        try:
            client, generation = self._sftp(slot)
        except _Lost as lost:
            cause = lost.__cause__ or lost
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} during {action}: {cause}"
            ) from cause
        return self.on_handle(slot, generation, action, lambda: fn(client)), generation

    def on_handle(self, slot: SftpSlot, generation: int, action: str, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on an open remote file of ``slot``'s channel (caller holds the lock).

        A file handle belongs to one SFTP channel: once that channel was replaced (the
        connection dropped), the handle is gone and the operation cannot be resumed here.
        """
        client = slot.client
        if client is None or slot.generation != generation:
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} during {action} (reconnected since)"
            )
        try:
            return fn()
        except Exception as exc:
            if not (_connection_lost(exc) or client.sock.closed):
                raise _translate(exc, action, self.name) from exc
            slot.client = None
            self._connection.drop(generation)
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} during {action}: {exc}"
            ) from exc
