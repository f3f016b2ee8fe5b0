"""The life of one host's SSH transport: connect lazily, route through proxies, reconnect.

An :class:`SshConnection` holds at most one paramiko transport to its target. Every thread
of the process that needs the host asks it for :meth:`~SshConnection.transport`; the first
one connects (the others wait, so a burst of calls costs one handshake), and a transport
found dead is replaced by the next caller. Each transport gets a *generation* number: a
caller that saw a failure on generation ``n`` drops exactly that one (:meth:`drop`), never
a newer transport another thread has meanwhile opened.

A target behind ``ProxyJump`` is reached through a direct-tcpip channel on the jump host's
own shared connection, so a fleet behind one bastion costs one bastion connection; one
behind ``ProxyCommand`` through that command's stdin/stdout, as ssh would run it.

The connection also owns the session budget: sshd allows ``MaxSessions`` (default 10)
channels per connection, and SFTP channels, running commands and libvirt streams share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import paramiko

from ...errors import HostError, HostUnreachableError
from .connect import CONNECT_TIMEOUT, ProxySocket, connect
from .destination import SshTarget, jump_target

__all__ = [
    "EXEC_CHANNELS",
    "LIBVIRT_STREAMS",
    "SESSION_WAIT",
    "SFTP_CHANNELS",
    "SshConnection",
]

_T = TypeVar("_T")

SFTP_CHANNELS = 2
"""SFTP channels per host; each serialises its own requests."""
EXEC_CHANNELS = 5
"""Commands running at once per host. With the SFTP channels and one libvirt stream this stays
under sshd's default MaxSessions (10), leaving room for sessions that we closed but sshd has
not yet released."""
LIBVIRT_STREAMS = 1
"""libvirt connections per host in a normal run (one per distinct URI; see libvirt_tunnel)."""
SESSION_WAIT = 10.0
"""Seconds to keep retrying when sshd refuses a session because it is at MaxSessions."""


class SshConnection:
    """The shared, self-healing transport to one :class:`~.target.SshTarget`. Thread-safe."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target
        self._lock = threading.Lock()  # guards client and _generation; held while connecting
        self.client: paramiko.SSHClient | None = None
        """The connected client, if any (None before first use and after a drop)."""
        self._generation = 0

    @property
    def name(self) -> str:
        return self.target.name

    def transport(self) -> tuple[paramiko.Transport, int]:
        """The live transport and its generation, connecting (once, for all threads) if needed."""
        with self._lock:
            client = self.client
            if client is not None:
                transport = client.get_transport()
                if transport is not None and transport.is_active():
                    return transport, self._generation
                client.close()
                self.client = None
            self.client = connect(self.target, self._proxy_socket)
            self._generation += 1
            transport = self.client.get_transport()
            assert transport is not None
            return transport, self._generation

    def _proxy_socket(self) -> ProxySocket:
        """What carries the connection when ssh_config says to go through a proxy.

        ``ProxyJump``: a direct-tcpip channel on the jump host's own (shared, cached) transport,
        so a fleet behind one bastion costs one bastion connection. ``ProxyCommand``: the
        command's stdin/stdout, as ssh would run it.
        """
        target = self.target
        if target.proxy_jump:
            # Deferred: the registry builds hosts, which are built on this module. The jump
            # host is the registry's, so it is shared with anyone using the bastion directly.
            from .registry import host_for_target

            jump = host_for_target(jump_target(target)).connection
            transport, _ = jump.transport()
            try:
                channel: paramiko.Channel = transport.open_channel(
                    "direct-tcpip",
                    (target.hostname, target.port),
                    ("127.0.0.1", 0),
                    timeout=CONNECT_TIMEOUT,
                )
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise HostUnreachableError(
                    f"jump host {jump.name} could not reach {target.hostname}:{target.port} "
                    f"for {target.name}: {exc}"
                ) from exc
            return channel
        if target.proxy_command:
            return paramiko.ProxyCommand(target.proxy_command)
        return None

    def drop(self, generation: int) -> None:
        """Forget the transport of ``generation`` (if still current) so the next call reconnects."""
        with self._lock:
            if self.client is not None and self._generation == generation:
                self.client.close()
                self.client = None

    def close(self) -> None:
        """Close the transport (channels on it go with it). Used again, it reconnects."""
        with self._lock:
            if self.client is not None:
                self.client.close()
                self.client = None

    def open_channel(self, opener: Callable[[], _T]) -> _T:
        """``opener()``, retried while sshd refuses the session for being at MaxSessions.

        We close channels before opening others, but sshd frees a session only once it has
        processed the close, so a burst of short commands can briefly find it full.
        """
        deadline = time.monotonic() + SESSION_WAIT
        delay = 0.01
        while True:
            try:
                return opener()
            except paramiko.ChannelException as exc:
                if time.monotonic() + delay > deadline:
                    raise self._session_refused(exc) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _session_refused(self, exc: paramiko.ChannelException) -> HostError:
        return HostError(
            f"SSH server {self.name} kept refusing to open another session ({exc.text}) for "
            f"{SESSION_WAIT:.0f}s; its sshd_config MaxSessions must be at least "
            f"{SFTP_CHANNELS + EXEC_CHANNELS + LIBVIRT_STREAMS + 2}"
        )
