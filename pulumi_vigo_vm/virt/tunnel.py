"""libvirt over the host's own SSH connection: one SSH connection per host per run.

What :func:`~.connection.libvirt_connection` opens for a ``qemu+ssh://`` URI.

libvirt's ``qemu+ssh`` transport spawns the ``ssh`` binary: a second SSH connection next to
the one :class:`~.ssh.SshHost` already holds for files and commands, checked against other
known_hosts files (root's, ignoring the URI's ``known_hosts=``), and forked from a process
full of gRPC threads. Instead, each libvirt connection to an SSH host gets one exec channel
on the host's shared paramiko transport, running the program libvirt itself would run there
(``virt-ssh-helper``, else ``nc -U`` on the daemon's socket), and libvirt reaches that
channel through a private UNIX socket: it opens ``qemu+unix:///system?socket=<path>`` and a
relay copies bytes both ways. The remote daemon sees exactly what ``qemu+ssh`` would send.

The socket lives in a fresh 0700 directory, accepts one connection, checks that the peer is
this very process (``SO_PEERCRED``) and is unlinked as soon as libvirt is connected.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import struct
import tempfile
import threading
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import libvirt
import paramiko

from ..common.uri import PROXIES, LibvirtUri
from ..errors import HostError, HostUnreachableError
from ..hosts.ssh import SshHost, ssh_host_for_uri

__all__ = ["RemoteDaemon", "open_libvirt_over_ssh"]

ACCEPT_TIMEOUT = 30.0
"""Seconds libvirt has to connect to the private socket after it was created."""
CHUNK = 256 * 1024
STDERR_LIMIT = 4096
"""Bytes of the remote helper's stderr kept for error messages."""

SYSTEM_SOCKET = "/var/run/libvirt/libvirt-sock"
_MAX_SOCKET_PARENT = 80
"""Longest temporary directory for our socket: + "/vigo-libvirt-XXXXXXXX/sock" < 108 bytes."""

# URI parameters libvirt's remote driver consumes itself (virt-remote docs); any other
# parameter belongs to the remote URI and is passed through in ``name``.
_REMOTE_DRIVER_PARAMS = frozenset(
    {
        "name", "command", "socket", "auth", "netcat", "keyfile", "no_verify", "no_tty",
        "pkipath", "known_hosts", "known_hosts_verify", "sshauth", "tls_priority", "mode",
        "proxy", "tls",
    }
)  # fmt: skip

# The helper choice libvirt's ssh transport makes (virNetClientSSHHelperCommand): $1 is the
# remote URI, $2 the daemon socket, $3 netcat. OpenBSD nc needs -q0 to exit at stdin EOF.
_NATIVE = 'exec virt-ssh-helper "$1"'
# An empty $2 (a session daemon) means the user's runtime directory on the host.
_NETCAT = (
    'sock="${2:-$XDG_RUNTIME_DIR/libvirt/libvirt-sock}"; '
    'if "$3" -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then '
    'exec "$3" -q0 -U "$sock"; fi; exec "$3" -U "$sock"'
)
_AUTO = f"if command -v virt-ssh-helper >/dev/null 2>&1; then {_NATIVE}; fi; {_NETCAT}"
_PROXIES = {"auto": _AUTO, "native": _NATIVE, "netcat": _NETCAT}


@dataclass(frozen=True)
class RemoteDaemon:
    """Which libvirt daemon a ``qemu+ssh`` URI reaches on its host, and how."""

    name: str
    """The URI as the remote host sees it, e.g. ``qemu:///system``."""
    local_scheme: str
    """The same driver over a local UNIX socket, e.g. ``qemu+unix``."""
    socket: str
    """The daemon's socket on the host (used when netcat is the helper)."""
    proxy: str
    netcat: str

    @classmethod
    def from_uri(cls, uri: str) -> RemoteDaemon:
        parsed = LibvirtUri.read(uri, lax_port=True)
        passed = [(k, v) for k, v in parsed.query if k not in _REMOTE_DRIVER_PARAMS]
        name = parsed.name or f"{parsed.driver}://{parsed.path}" + (
            f"?{urlencode(passed)}" if passed else ""
        )
        proxy = parsed.proxy
        if proxy not in PROXIES:
            raise HostError(f"uri {parsed.redacted()}: proxy must be auto, native or netcat")
        default_socket = SYSTEM_SOCKET if parsed.path == "/system" else ""
        return cls(
            name=name,
            local_scheme=f"{parsed.driver}+unix",
            socket=parsed.socket or default_socket,
            proxy=proxy,
            netcat=parsed.netcat or "nc",
        )

    def command(self) -> str:
        """The command line the host's login shell runs to join our channel to the daemon."""
        script = _PROXIES[self.proxy]
        return shlex.join(["sh", "-c", script, "sh", self.name, self.socket, self.netcat])

    def local_uri(self, socket_path: str) -> str:
        """The URI that makes libvirt speak to the daemon through ``socket_path``."""
        path = LibvirtUri.read(self.name, lax_port=True).path.lstrip("/")
        return (
            f"{self.local_scheme}:///{path}"
            f"?socket={quote(socket_path, safe='/')}&name={quote(self.name, safe='')}"
        )


def open_libvirt_over_ssh(uri: str) -> libvirt.virConnect:
    """A libvirt connection to ``uri`` (``qemu+ssh://``) carried by the host's SSH transport.

    Raises HostUnreachableError naming the host when SSH fails (host key, auth, network) or
    when the daemon there cannot be reached, with the remote helper's own words.
    """
    host = ssh_host_for_uri(uri)
    daemon = RemoteDaemon.from_uri(uri)
    channel = host.open_stream(daemon.command())
    try:
        relay = _Relay(channel, host)
    except OSError as exc:
        channel.close()
        raise HostError(f"cannot create a private socket for libvirt: {exc}") from exc
    try:
        return libvirt.open(daemon.local_uri(relay.socket_path))
    except libvirt.libvirtError as exc:
        said = relay.remote_stderr()
        relay.close()
        hint = (
            "Install virt-ssh-helper (package libvirt-daemon) or netcat-openbsd there"
            if "not found" in said
            else "Is libvirtd (or virtqemud) running there, and may "
            f"{host.target.user} use its socket (root, or the libvirt group)?"
        )
        raise HostUnreachableError(
            f"cannot connect to libvirt on {host.name} ({daemon.name}): "
            f"{said or exc.get_error_message()}. {hint}"
        ) from exc
    except BaseException:
        relay.close()
        raise
    finally:
        relay.forget_socket()


class _Relay:
    """Copies bytes between one accepted local connection and one SSH channel, until either
    side closes; then closes both, so libvirt sees EOF when the channel dies and the remote
    helper sees EOF when libvirt closes the connection."""

    def __init__(self, channel: paramiko.Channel, host: SshHost) -> None:
        self._channel = channel
        self._host = host
        self._stderr = bytearray()
        self._dir = tempfile.mkdtemp(prefix="vigo-libvirt-", dir=_socket_parent())  # 0700
        self.socket_path = os.path.join(self._dir, "sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listener.bind(self.socket_path)
            self._listener.listen(1)
        except OSError:
            self.forget_socket()
            raise
        self._listener.settimeout(ACCEPT_TIMEOUT)
        self._local: socket.socket | None = None
        threading.Thread(target=self._serve, name=f"libvirt-relay {host.name}", daemon=True).start()

    def forget_socket(self) -> None:
        """Remove the socket file and its directory (libvirt is connected, or gave up)."""
        with contextlib.suppress(OSError):
            self._listener.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._local is not None:
            with contextlib.suppress(OSError):
                self._local.shutdown(socket.SHUT_RDWR)
        # closing a channel sends a message: the transport may already be gone
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self._channel.close()

    def remote_stderr(self) -> str:
        """What the remote helper wrote to stderr (after the channel ended), trimmed."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            while self._channel.recv_stderr_ready() and len(self._stderr) < STDERR_LIMIT:
                self._stderr += self._channel.recv_stderr(STDERR_LIMIT)
        return self._stderr[:STDERR_LIMIT].decode("utf-8", "replace").strip()

    def _serve(self) -> None:
        try:
            local = self._accept()
        except OSError:
            self.close()
            return
        self._local = local
        upstream = threading.Thread(
            target=self._copy_to_channel, args=(local,), name=f"libvirt-relay-up {self._host.name}",
            daemon=True,
        )  # fmt: skip
        upstream.start()
        self._copy_to_local(local)
        upstream.join()
        local.close()

    def _accept(self) -> socket.socket:
        """The one connection libvirt makes; anyone else (another process) is turned away."""
        while True:
            conn, _ = self._listener.accept()
            if _peer_pid(conn) == os.getpid():
                conn.settimeout(None)
                return conn
            conn.close()

    def _copy_to_local(self, local: socket.socket) -> None:
        """Channel → libvirt. The channel's EOF (remote exit, lost transport) ends both ways."""
        try:
            while data := self._channel.recv(CHUNK):
                local.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        self.close()

    def _copy_to_channel(self, local: socket.socket) -> None:
        """libvirt → channel. libvirt closing its connection closes the channel (and so ends
        the remote helper); libvirt never half-closes."""
        try:
            while data := local.recv(CHUNK):
                self._channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        self.close()


def _socket_parent() -> str:
    """The temporary directory, unless its path is too long for a UNIX socket (108 bytes)."""
    parent = tempfile.gettempdir()
    return parent if len(parent) <= _MAX_SOCKET_PARENT else "/tmp"


def _peer_pid(conn: socket.socket) -> int:
    """The process id at the other end of a UNIX socket (Linux SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid: int = struct.unpack("3i", creds)[0]
    return pid
