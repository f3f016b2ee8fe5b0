"""SshHost: a hypervisor reached over SSH. Commands run over exec channels, files over SFTP.

Why it is shaped this way:

* **One transport per target for the whole process.** The engine calls the provider from
  up to ten threads at once; an SSH handshake costs tens to hundreds of milliseconds and
  sshd rate-limits unauthenticated connections (``MaxStartups``). So
  :func:`ssh_host_for_uri` hands out one cached :class:`SshHost` per target, which opens a
  single paramiko transport lazily and reopens it when it is found dead. A target is the
  account, the route and the trust inputs (keys, known_hosts files): URIs that differ in
  those are verified and authenticated separately.
* **SFTP wherever it answers the question.** An exec channel starts a login shell on the
  host (~100 ms); an SFTP request on an open channel is one round trip. ``stat``,
  ``listdir``, ``makedirs``, ``remove``, ``rename``, reads and atomic writes are all SFTP.
* **Shared, locked SFTP channels.** paramiko's ``SFTPClient`` must not be used by two
  threads at once (a thread waiting for its reply may consume another's). A few channels
  are opened on demand and each *request* holds its channel's lock; nothing holds a lock
  across a ``yield`` or a caller's ``with`` block, so a thread copying a file from one path
  of a host to another (a reader and a writer at once) cannot deadlock others.
* **Session budget.** sshd allows ``MaxSessions`` (default 10) channels per connection;
  SFTP channels, concurrently running commands and the libvirt stream stay within it.
* **libvirt rides on the same transport** (:mod:`.libvirt_tunnel`), so a run opens one SSH
  connection per host, verified by the same known_hosts rules.
* **Host keys are verified, never learnt.** Keys come from ``known_hosts`` files (the URI's
  ``known_hosts=`` parameter, else the user's and the system's); an unknown key is refused
  with the fingerprint and the fix. Trust-on-first-use would make a first deploy against
  a spoofed host silently succeed. ``@revoked`` lines are honoured; ``@cert-authority``
  lines are not usable (paramiko cannot verify host certificates) and only explain why a
  host known solely through them is refused.
* **Reconnect once.** A call that finds the transport dead reconnects and retries once if
  repeating it is harmless. Commands are retried only when they cannot have started.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import errno
import getpass
import hmac
import io
import itertools
import os
import re
import shlex
import socket
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import paramiko
from paramiko.pkey import UnknownKeyType
from paramiko.sftp import CMD_EXTENDED, CMD_HANDLE, CMD_OPEN
from paramiko.sftp import SFTP_FLAG_CREATE as _CREATE
from paramiko.sftp import SFTP_FLAG_EXCL as _EXCL
from paramiko.sftp import SFTP_FLAG_TRUNC as _TRUNC
from paramiko.sftp import SFTP_FLAG_WRITE as _WRITE
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_file import SFTPFile

from ..errors import CommandError, CommandTimeoutError, HostError, HostUnreachableError
from .base import CommandResult, FileStat, command_timeout, temporary_name

__all__ = [
    "SshHost",
    "SshTarget",
    "close_all_ssh_hosts",
    "opened_ssh_connection_count",
    "resolve_ssh_target",
    "ssh_host_for_uri",
]

_T = TypeVar("_T")

DEFAULT_PORT = 22
CONNECT_TIMEOUT = 15.0
"""Seconds for TCP connect, banner and authentication before the host counts as unreachable."""
MAX_JUMP_HOPS = 8
"""ProxyJump chains longer than this are refused."""
KEEPALIVE_INTERVAL = 15
"""Seconds between keepalives: keeps NAT/firewall state alive and notices a dead peer."""
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
CHANNEL_TIMEOUT = 300.0
"""Seconds an SFTP request may go unanswered before the connection is declared dead."""

_SYSTEM_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


# --------------------------------------------------------------------------- targets

_TargetKey = tuple[str, str, int, str, str, tuple[str, ...], tuple[str, ...]]
"""(user, hostname, port, ProxyJump, ProxyCommand, key files, known_hosts files)."""


@dataclass(frozen=True)
class SshTarget:
    """Where and how to connect, after merging the URI with ``~/.ssh/config``."""

    alias: str
    """The host as written in the URI (used in messages and for ssh_config lookup)."""
    hostname: str
    """The address actually dialled (ssh_config ``HostName``, else ``alias``)."""
    port: int
    user: str
    key_files: tuple[str, ...]
    """Private keys to offer first: the URI's ``keyfile`` then ssh_config ``IdentityFile``."""
    known_hosts: tuple[str, ...]
    """Files whose keys are trusted for this host."""
    known_hosts_explicit: bool
    """True when the URI named the known_hosts file (it must then exist)."""
    proxy_jump: str = ""
    """ssh_config ``ProxyJump``: ``[user@]host[:port]`` hops, comma-separated, tried in order."""
    proxy_command: str = ""
    """ssh_config ``ProxyCommand`` (tokens expanded): its stdin/stdout carry the connection."""
    reached_for: tuple[str, ...] = ()
    """Names of the hosts this one is a jump host for, nearest last (guards ProxyJump loops)."""

    @property
    def key(self) -> _TargetKey:
        """Identity of the transport: one connection per account, route and trust.

        A host reached through a jump host is not the jump host, even at the same address;
        and a URI naming other known_hosts files or keys must be verified and authenticated
        with those, not ride on a connection that another URI's files let through.
        """
        return (
            self.user,
            self.hostname,
            self.port,
            self.proxy_jump,
            self.proxy_command,
            self.key_files,
            self.known_hosts,
        )

    @property
    def name(self) -> str:
        return f"{self.user}@{self.alias}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """How the host appears in known_hosts (OpenSSH writes ``[host]:port`` off port 22)."""
        return self.hostname if self.port == DEFAULT_PORT else f"[{self.hostname}]:{self.port}"


def _ssh_config_path() -> str:
    return os.path.expanduser("~/.ssh/config")


def resolve_ssh_target(uri: str) -> SshTarget:
    """Parse a ``qemu+ssh://`` URI and apply ``~/.ssh/config`` the way ``ssh`` would.

    URI values win over ssh_config (as ``ssh -p``/``-l``/``-i`` win over the file), so a URI
    reaches the account ``virsh -c`` with it would.
    """
    parts = urlsplit(uri)
    if not parts.hostname:
        raise HostError(f"uri {uri!r} names no host; use qemu+ssh://[user@]host[:port]/system")
    try:
        uri_port = parts.port
    except ValueError as exc:
        raise HostError(f"uri {uri!r} has an invalid port") from exc
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return _resolve(
        parts.hostname,
        user=unquote(parts.username) if parts.username else "",
        port=uri_port,
        keyfile=query.get("keyfile", ""),
        known_hosts=query.get("known_hosts", ""),
        shown=_redact(uri),
    )


def _resolve(
    alias: str, *, user: str, port: int | None, keyfile: str, known_hosts: str, shown: str
) -> SshTarget:
    """``alias`` with ssh_config applied; explicit ``user``/``port``/``keyfile`` win."""
    config: dict[str, Any] = {}
    config_path = _ssh_config_path()
    if os.path.isfile(config_path):
        try:
            config = dict(paramiko.SSHConfig.from_path(config_path).lookup(alias))
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(f"cannot read {config_path}: {exc}") from exc

    hostname = str(config.get("hostname") or alias)
    port = port or int(config.get("port") or DEFAULT_PORT)
    user = user or str(config.get("user") or "") or getpass.getuser()

    key_files: list[str] = []
    if keyfile:
        keyfile = os.path.expanduser(keyfile)
        if not os.path.isfile(keyfile):
            raise HostUnreachableError(
                f"keyfile {keyfile} from uri {shown} does not exist on this machine"
            )
        key_files.append(keyfile)
    # ssh_config lists IdentityFile entries that may not exist (defaults copied around);
    # ssh skips those silently and so do we.
    key_files += [
        f
        for f in (os.path.expanduser(p) for p in config.get("identityfile", []))
        if os.path.isfile(f)
    ]

    if known_hosts:
        known_files: tuple[str, ...] = (os.path.expanduser(known_hosts),)
        explicit = True
    else:
        user_files = str(
            config.get("userknownhostsfile") or "~/.ssh/known_hosts ~/.ssh/known_hosts2"
        )
        global_files = str(config.get("globalknownhostsfile") or " ".join(_SYSTEM_KNOWN_HOSTS))
        known_files = tuple(
            os.path.expanduser(f) for f in (user_files + " " + global_files).split()
        )
        explicit = False
    proxy_command = str(config.get("proxycommand") or "")
    return SshTarget(
        alias,
        hostname,
        port,
        user,
        tuple(key_files),
        known_files,
        explicit,
        proxy_jump="" if config.get("proxyjump", "none") == "none" else str(config["proxyjump"]),
        proxy_command="" if proxy_command == "none" else proxy_command,
    )


def _jump_target(target: SshTarget) -> SshTarget:
    """The last ``ProxyJump`` hop of ``target`` (reached through the hops before it).

    Each hop is looked up in ssh_config like any host; it is trusted by the same known_hosts
    files as the target, and the target's keys are offered to it too.
    """
    *earlier, last = [hop.strip() for hop in target.proxy_jump.split(",")]
    spec = last.removeprefix("ssh://")
    user, _, hostport = spec.rpartition("@")
    host, _, port = hostport.partition(":")
    if hostport.startswith("["):  # [v6]:port
        host, _, rest = hostport[1:].partition("]")
        port = rest.removeprefix(":")
    if not host or (port and not port.isdigit()):
        raise HostError(f"ProxyJump {target.proxy_jump!r} for {target.alias} is not understood")
    hop = _resolve(
        host,
        user=user,
        port=int(port) if port else None,
        keyfile="",
        known_hosts="",
        shown=f"ProxyJump of {target.alias}",
    )
    jump = replace(
        hop,
        key_files=tuple(dict.fromkeys(hop.key_files + target.key_files)),
        known_hosts=target.known_hosts,
        known_hosts_explicit=target.known_hosts_explicit,
        proxy_jump=",".join(earlier) if earlier else hop.proxy_jump,
        reached_for=(*target.reached_for, target.name),
    )
    if jump.name in jump.reached_for or len(jump.reached_for) > MAX_JUMP_HOPS:
        raise HostError(
            f"ProxyJump loop: {' -> '.join((*jump.reached_for, jump.name))}; a Host pattern in "
            f"~/.ssh/config probably applies ProxyJump to the jump host itself (exclude it, "
            f"e.g. Host * !{jump.alias})"
        )
    return jump


def _redact(uri: str) -> str:
    """The URI without a password, should someone put one in it."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# --------------------------------------------------------------------------- connecting


class _UnknownHostKeyError(paramiko.SSHException):  # type: ignore[misc]
    """The server's key is in no known_hosts file; carries the key for the message."""

    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class _RefuseUnknownHostKey(paramiko.RejectPolicy):  # type: ignore[misc]
    """RejectPolicy that keeps the offered key, so the error can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        raise _UnknownHostKeyError(key)


@dataclass(frozen=True)
class _HostTrust:
    """What the known_hosts files say about one host, read the way OpenSSH reads them."""

    trusted: tuple[paramiko.PKey, ...]
    """Plain entries for the host, minus any key that is also revoked."""
    revoked: dict[bytes, str]
    """Public key blob -> the file whose ``@revoked`` line lists it for this host."""
    cert_authority_files: tuple[str, ...]
    """Files with ``@cert-authority`` lines for this host (paramiko cannot verify host
    certificates, so these only explain a refusal)."""


def _read_known_hosts(target: SshTarget) -> _HostTrust:
    """The entries of ``target``'s known_hosts files that concern it.

    Parsed here, line by line, instead of by paramiko's ``HostKeys.load``, which raises on
    the first ``@cert-authority`` or ``@revoked`` line and so would break every connection
    of a user whose file has one. A line that cannot be parsed (a key type paramiko does not
    know, damaged base64, a marker we do not know) is skipped, as ssh skips it.
    """
    host = target.known_hosts_name
    trusted: list[paramiko.PKey] = []
    revoked: dict[bytes, str] = {}
    cert_authority: list[str] = []
    for path in target.known_hosts:
        try:
            with open(path, "rb") as file:
                text = file.read().decode("utf-8", "replace")
        except FileNotFoundError as exc:
            if target.known_hosts_explicit:
                raise HostUnreachableError(
                    f"known_hosts file {path} given for {target.name} does not exist"
                ) from exc
            continue
        except OSError as exc:
            raise HostUnreachableError(f"cannot read known_hosts file {path}: {exc}") from exc
        for line in text.splitlines():
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            marker = fields.pop(0) if fields[0].startswith("@") else ""
            if len(fields) < 3 or not _host_matches(fields[0], host):
                continue
            if marker == "@cert-authority":
                cert_authority.append(path)
                continue
            key = _parse_public_key(fields[1], fields[2])
            if key is None:
                continue
            if marker == "@revoked":
                revoked.setdefault(key.asbytes(), path)
            elif not marker:
                trusted.append(key)
    return _HostTrust(
        tuple(k for k in trusted if k.asbytes() not in revoked),
        revoked,
        tuple(dict.fromkeys(cert_authority)),
    )


def _host_matches(names: str, host: str) -> bool:
    """Whether a known_hosts name field (``a,b*,!c`` or one hashed ``|1|salt|hash``) names
    ``host``, with OpenSSH's rules: ``*``/``?`` wildcards, case-insensitive, and a matching
    negated pattern excludes the host whatever else matches."""
    host = host.lower()
    if names.startswith("|1|"):  # HashKnownHosts: |1|base64(salt)|base64(HMAC-SHA1(host))
        salt, _, digest = names[3:].partition("|")
        try:
            expected = base64.b64decode(digest, validate=True)
            actual = hmac.new(base64.b64decode(salt, validate=True), host.encode(), "sha1")
        except ValueError:  # damaged line
            return False
        return hmac.compare_digest(actual.digest(), expected)
    matched = False
    for pattern in names.split(","):
        negated = pattern.startswith("!")
        regex = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c)
            for c in pattern.removeprefix("!").lower()
        )
        if re.fullmatch(regex, host):
            if negated:
                return False
            matched = True
    return matched


def _parse_public_key(key_type: str, blob: str) -> paramiko.PKey | None:
    """The key of a known_hosts line, or None when paramiko cannot use it."""
    try:
        return paramiko.PKey.from_type_string(key_type, base64.b64decode(blob, validate=True))
    except (ValueError, paramiko.SSHException, UnknownKeyType):
        return None


_registry_lock = threading.Lock()
_hosts: dict[_TargetKey, SshHost] = {}
_hosts_by_uri: dict[str, SshHost] = {}
_opened = 0


def _count_opened() -> None:
    global _opened
    with _registry_lock:
        _opened += 1


def opened_ssh_connection_count() -> int:
    """SSH connections (transports) this process has opened; one per host per run is the goal."""
    return _opened


def ssh_host_for_uri(uri: str) -> SshHost:
    """The process-wide :class:`SshHost` for ``uri``'s target (see :attr:`SshTarget.key`).

    Every URI reaching the same account with the same keys and known_hosts files shares one
    host object and so one transport; a URI that differs in those gets its own, verified
    and authenticated with its own files.
    """
    with _registry_lock:
        host = _hosts_by_uri.get(uri)
        if host is not None:
            return host
    host = _host_for_target(resolve_ssh_target(uri))
    with _registry_lock:
        _hosts_by_uri[uri] = host
    return host


def _host_for_target(target: SshTarget) -> SshHost:
    """The process-wide host for ``target.key``."""
    with _registry_lock:
        return _hosts.setdefault(target.key, SshHost(target))


def close_all_ssh_hosts() -> None:
    """Close every cached transport and forget the hosts (at exit, and between tests)."""
    with _registry_lock:
        hosts = list(_hosts.values())
        _hosts.clear()
        _hosts_by_uri.clear()
    for host in hosts:
        host.close()


# paramiko's transport threads are daemons, but closing them avoids a hang at interpreter
# shutdown that paramiko documents for unclosed clients.
atexit.register(close_all_ssh_hosts)


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


class _SftpSlot:
    """One SFTP channel and the lock that serialises its requests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.client: paramiko.SFTPClient | None = None
        self.generation = -1


class SshHost:
    """A :class:`~pulumi_vigo_vm.hosts.base.Host` over one shared paramiko transport.

    Thread-safe. Connects on first use; get instances from :func:`ssh_host_for_uri`.
    """

    def __init__(self, target: SshTarget) -> None:
        self.target = target
        self._lock = threading.Lock()  # guards _client and _generation; held while connecting
        self._client: paramiko.SSHClient | None = None
        self._generation = 0
        self._slots = [_SftpSlot() for _ in range(SFTP_CHANNELS)]
        self._turn = itertools.count()  # next() is atomic in CPython: no lock needed
        self._exec_slots = threading.BoundedSemaphore(EXEC_CHANNELS)

    @classmethod
    def from_uri(cls, uri: str) -> SshHost:
        """A new, uncached host for ``uri`` (tests; production code uses ssh_host_for_uri)."""
        return cls(resolve_ssh_target(uri))

    @property
    def name(self) -> str:
        return self.target.name

    # ------------------------------------------------------------------ transport

    def _transport(self) -> tuple[paramiko.Transport, int]:
        """The live transport and its generation, connecting (once, for all threads) if needed."""
        with self._lock:
            client = self._client
            if client is not None:
                transport = client.get_transport()
                if transport is not None and transport.is_active():
                    return transport, self._generation
                client.close()
                self._client = None
            self._client = self._connect()
            self._generation += 1
            transport = self._client.get_transport()
            assert transport is not None
            return transport, self._generation

    def _connect(self) -> paramiko.SSHClient:
        target = self.target
        trust = _read_known_hosts(target)
        client = paramiko.SSHClient()
        for key in trust.trusted:
            client.get_host_keys().add(target.known_hosts_name, key.get_name(), key)
        # Both refusals below happen before authentication: a revoked key is not trusted,
        # so it reaches the policy (or mismatches a trusted key of its type).
        client.set_missing_host_key_policy(_RefuseUnknownHostKey())
        try:
            sock = self._proxy_socket()
            client.connect(
                target.hostname,
                port=target.port,
                sock=sock,
                username=target.user,
                key_filename=list(target.key_files) or None,
                allow_agent=True,
                look_for_keys=True,
                timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT,
                auth_timeout=CONNECT_TIMEOUT,
                channel_timeout=CONNECT_TIMEOUT,
            )
        except (_UnknownHostKeyError, paramiko.BadHostKeyException) as exc:
            client.close()
            raise self._host_key_refused(trust, exc) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            offered = ", ".join(target.key_files) or "no keyfile"
            raise HostUnreachableError(
                f"SSH authentication as {target.user} on {target.name} was refused (offered "
                f"{offered}, ssh-agent keys and ~/.ssh/id_*): {exc}. Put the public key in "
                f"~{target.user}/.ssh/authorized_keys there, or name the key with ?keyfile="
            ) from exc
        except (OSError, paramiko.SSHException, EOFError) as exc:
            client.close()
            raise HostUnreachableError(
                f"cannot reach SSH server {target.name} ({target.hostname}:{target.port}): "
                f"{exc or type(exc).__name__}"
            ) from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_INTERVAL)
        _count_opened()
        return client

    def _host_key_refused(
        self, trust: _HostTrust, exc: _UnknownHostKeyError | paramiko.BadHostKeyException
    ) -> HostUnreachableError:
        """Why the key the server offered is not accepted, and what to do about it."""
        target = self.target
        key: paramiko.PKey = exc.key
        offered = f"{key.get_name()} {key.fingerprint}"
        revoked_in = trust.revoked.get(key.asbytes())
        if revoked_in is not None:
            return HostUnreachableError(
                f"SSH host key of {target.name} ({target.known_hosts_name}), {offered}, is "
                f"marked @revoked in {revoked_in}; refusing to connect. A revoked key may be "
                f"in an attacker's hands: the host's administrator must replace it (then "
                f"add the new key to known_hosts)"
            )
        if isinstance(exc, paramiko.BadHostKeyException):
            return HostUnreachableError(
                f"SSH host key of {target.name} does NOT match known_hosts (offered "
                f"{exc.key.fingerprint}, expected {exc.expected_key.fingerprint}); someone may "
                f"be intercepting the connection. If the host was reinstalled, verify the new "
                f"key, then run ssh-keygen -R '{target.known_hosts_name}' and add it again"
            )
        add_it = (
            f"Verify that fingerprint with the host's administrator (ssh-keygen -lf "
            f"/etc/ssh/ssh_host_*_key.pub on the host), then add it: ssh-keyscan -p "
            f"{target.port} {target.hostname} >> {target.known_hosts[0]}"
        )
        if trust.cert_authority_files:
            return HostUnreachableError(
                f"SSH host {target.name} ({target.known_hosts_name}) is trusted only through "
                f"@cert-authority lines in {' and '.join(trust.cert_authority_files)}; "
                f"certificate-based host verification is not supported, so the host's plain "
                f"key must be in known_hosts. The server offered {offered}. {add_it}"
            )
        return HostUnreachableError(
            f"SSH host key of {target.name} ({target.known_hosts_name}) is not in "
            f"{' or '.join(target.known_hosts)}; refusing to connect. The server offered "
            f"{offered}. {add_it}"
        )

    def _proxy_socket(self) -> paramiko.Channel | paramiko.ProxyCommand | None:
        """What carries the connection when ssh_config says to go through a proxy.

        ``ProxyJump``: a direct-tcpip channel on the jump host's own (shared, cached) transport,
        so a fleet behind one bastion costs one bastion connection. ``ProxyCommand``: the
        command's stdin/stdout, as ssh would run it.
        """
        target = self.target
        if target.proxy_jump:
            jump = _host_for_target(_jump_target(target))
            transport, _ = jump._transport()
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

    def _drop(self, generation: int) -> None:
        """Forget the transport of ``generation`` (if still current) so the next call reconnects."""
        with self._lock:
            if self._client is not None and self._generation == generation:
                self._client.close()
                self._client = None

    def close(self) -> None:
        """Close SFTP channels and the transport. The host reconnects if used again."""
        for slot in self._slots:
            with slot.lock:
                if slot.client is not None:
                    with contextlib.suppress(Exception):
                        slot.client.close()
                    slot.client = None
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ sftp plumbing

    def _pick_slot(self) -> _SftpSlot:
        """A free SFTP slot if there is one, else the next in turn (whose lock we then wait on)."""
        for slot in self._slots:
            if slot.lock.acquire(blocking=False):
                return slot
        slot = self._slots[next(self._turn) % len(self._slots)]
        slot.lock.acquire()
        return slot

    def _sftp(self, slot: _SftpSlot) -> tuple[paramiko.SFTPClient, int]:
        """The slot's SFTP client on the current transport (caller holds ``slot.lock``)."""
        transport, generation = self._transport()
        client = slot.client
        if client is not None and slot.generation == generation and not client.sock.closed:
            return client, generation
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            slot.client = None
        try:
            client = self._open_channel(lambda: paramiko.SFTPClient.from_transport(transport))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self._drop(generation)
            raise _Lost(exc) from exc
        if client is None:
            raise HostError(f"SFTP subsystem unavailable on {self.name}")
        client.get_channel().settimeout(CHANNEL_TIMEOUT)
        slot.client, slot.generation = client, generation
        return client, generation

    def _open_channel(self, opener: Callable[[], _T]) -> _T:
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

    def _sftp_call(
        self, action: str, fn: Callable[[paramiko.SFTPClient], _T], *, retry: bool = True
    ) -> _T:
        """Run ``fn`` with an SFTP client; reconnect and retry once if the connection died.

        ``fn`` handles the SFTP statuses it expects (ENOENT, ...); any other error is
        translated here, once. A failure to open the channel is always retried (``fn`` has
        not run); a failure inside ``fn`` only when ``retry`` says repeating it is harmless.
        """
        failure: BaseException | None = None
        for _attempt in (1, 2):
            slot = self._pick_slot()
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
                    self._drop(generation)
                    failure = exc
                    if not retry:
                        break
            finally:
                slot.lock.release()
        raise HostUnreachableError(
            f"lost the SSH connection to {self.name} during {action}: {failure}"
        ) from failure

    def _sftp_call_in_slot(
        self, slot: _SftpSlot, action: str, fn: Callable[[paramiko.SFTPClient], _T]
    ) -> tuple[_T, int]:
        """Run ``fn`` on ``slot`` (whose lock the caller holds); translate errors; no retry."""
        try:
            client, generation = self._sftp(slot)
        except _Lost as lost:
            cause = lost.__cause__ or lost
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} during {action}: {cause}"
            ) from cause
        return self._on_handle(slot, generation, action, lambda: fn(client)), generation

    def _on_handle(self, slot: _SftpSlot, generation: int, action: str, fn: Callable[[], _T]) -> _T:
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
            self._drop(generation)
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} during {action}: {exc}"
            ) from exc

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

        return self._sftp_call(f"stat {path}", op)

    def listdir(self, path: str) -> list[str]:
        def op(sftp: paramiko.SFTPClient) -> list[str]:
            try:
                return cast(list[str], sftp.listdir(path))
            except FileNotFoundError:
                return []

        return self._sftp_call(f"listdir {path}", op)

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            _sftp_makedirs(sftp, path, mode)

        self._sftp_call(f"makedirs {path}", op)

    def chmod(self, path: str, mode: int) -> None:
        self._sftp_call(f"chmod {path}", lambda sftp: sftp.chmod(path, mode))

    def remove(self, path: str) -> bool:
        def op(sftp: paramiko.SFTPClient) -> bool:
            try:
                sftp.remove(path)
            except FileNotFoundError:
                return False
            return True

        # Not retried: if the first attempt removed the file before the reply was lost, a
        # retry would report False for a file that did exist.
        return self._sftp_call(f"remove {path}", op, retry=False)

    def rename(self, src: str, dst: str) -> None:
        # Not retried: a rename that happened before the reply was lost fails on retry.
        # posix-rename@openssh.com is rename(2); plain SSH_FXP_RENAME would not replace dst.
        self._sftp_call(
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
        if not self._sftp_call(f"rename {src} to {dst} (no replace)", op, retry=False):
            raise FileExistsError(errno.EEXIST, f"{dst} exists on {self.name}", dst)

    def write_atomic(self, path: str, data: bytes, mode: int) -> None:
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

        self._sftp_call(f"write {path}", op)

    @contextlib.contextmanager
    def open_atomic_writer(self, path: str, mode: int) -> Iterator[BinaryIO]:
        tmp = temporary_name(path)
        slot = self._pick_slot()
        try:
            remote, generation = self._sftp_call_in_slot(
                slot, f"create {tmp}", lambda sftp: _create_exclusive(sftp, tmp, mode)
            )
        finally:
            slot.lock.release()
        writer = _RemoteWriter(self, slot, generation, remote, path)
        try:
            yield cast(BinaryIO, writer)

            def finish() -> None:
                _finish_write(remote)
                remote.sftp.posix_rename(tmp, path)

            with slot.lock:
                self._on_handle(slot, generation, f"write {path}", finish)
        except BaseException:
            with slot.lock, contextlib.suppress(Exception):
                remote.close()
            # Over a new connection if the old one died; best effort, the error that got us
            # here is the one to report.
            with contextlib.suppress(Exception):
                self.remove(tmp)
            raise
        finally:
            writer.closed_by_owner()

    def read_chunks(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream ``path``; on a dropped connection, reconnect once and resume at the offset.

        Each chunk is one locked SFTP call on the channel that opened the file, so other
        threads' requests interleave with a long read instead of waiting for all of it.
        """
        offset = 0
        for attempt in (1, 2):
            slot = self._pick_slot()
            try:
                remote, generation = self._sftp_call_in_slot(
                    slot, f"read {path}", partial(_open_at, path=path, offset=offset)
                )
            except HostUnreachableError:
                if attempt == 2:
                    raise
                continue
            finally:
                slot.lock.release()
            try:
                while True:
                    with slot.lock:
                        chunk: bytes = self._on_handle(
                            slot, generation, f"read {path}", partial(remote.read, chunk_size)
                        )
                    if not chunk:
                        return
                    offset += len(chunk)
                    yield chunk
            except HostUnreachableError:
                if attempt == 2:
                    raise
            finally:
                with slot.lock, contextlib.suppress(Exception):
                    if slot.client is not None and slot.generation == generation:
                        remote.close()

    # ------------------------------------------------------------------ Host: commands

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        if not argv:
            raise ValueError("run() needs a command")
        limit = command_timeout(timeout)
        # The remote side hands this string to the login shell: every argument is quoted.
        shown = shlex.join(argv)
        with self._exec_slots:
            channel = self._open_exec_channel(
                shlex.join(["sh", "-c", _BOUND_TO_CHANNEL, "sh", *argv]), shown=shown
            )
            deadline = _Deadline(channel, limit)
            try:
                result = self._collect(channel, argv)
            except HostUnreachableError as exc:
                if deadline.settle():  # our own close at the deadline, not a lost connection
                    raise CommandTimeoutError(self.name, argv, limit) from exc
                raise
            finally:
                expired = deadline.settle()
                channel.close()
        if expired:
            raise CommandTimeoutError(self.name, argv, limit)
        if result.returncode == 127 and "not found" in result.stderr:
            raise HostError(
                f"{argv[0]} is not installed on {self.name}; install it (e.g. apt-get install "
                f"qemu-utils) and retry"
            )
        if check and result.returncode != 0:
            raise CommandError(self.name, argv, result.returncode, result.stderr)
        return result

    def open_stream(self, command: str) -> paramiko.Channel:
        """A channel running ``command`` with its stdin open: a byte pipe to a remote program.

        For long-lived conversations (libvirt's RPC stream rides on one for the whole run), so
        it is not counted against the budget of concurrently running commands.
        """
        return self._open_exec_channel(command, shown=command)

    def _open_exec_channel(self, command: str, *, shown: str) -> paramiko.Channel:
        """An exec channel running ``command`` (``shown`` in messages), its stdin left open.
        Retried once only if it did not start."""
        for attempt in (1, 2):
            transport, generation = self._transport()
            try:
                channel = self._open_channel(
                    partial(transport.open_session, timeout=CONNECT_TIMEOUT)
                )
            except (paramiko.SSHException, EOFError, OSError) as exc:
                # The channel never opened, so the command certainly did not run.
                self._drop(generation)
                if attempt == 2:
                    raise HostUnreachableError(
                        f"lost the SSH connection to {self.name} before running {shown}: {exc}"
                    ) from exc
                continue
            try:
                channel.exec_command(command)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                channel.close()
                self._drop(generation)
                raise HostUnreachableError(
                    f"lost the SSH connection to {self.name} starting {shown} (it may or may "
                    f"not have run): {exc}"
                ) from exc
            return channel
        raise AssertionError("unreachable")

    def _collect(self, channel: paramiko.Channel, argv: Sequence[str]) -> CommandResult:
        """Read stdout and stderr to the end, concurrently, then the exit status.

        Reading one stream to the end before the other would deadlock once the command fills
        the channel window with output on the other stream.
        """
        errors: list[bytes] = []
        failures: list[BaseException] = []

        def read_stderr() -> None:
            try:
                errors.append(channel.makefile_stderr("rb").read())
            except BaseException as exc:
                failures.append(exc)

        reader = threading.Thread(target=read_stderr, name=f"ssh-stderr {self.name}", daemon=True)
        reader.start()
        try:
            out = channel.makefile("rb").read()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            out = b""
            failures.insert(0, exc)
        reader.join()
        status = channel.recv_exit_status()
        transport = channel.get_transport()
        if failures or (status == -1 and not (transport and transport.is_active())):
            cause = failures[0] if failures else None
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} while running {shlex.join(argv)}; it "
                f"may or may not have completed"
            ) from cause
        err = b"".join(errors)
        return CommandResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- helpers


_BOUND_TO_CHANNEL = (
    "exec 3<&0; { read -r _ <&3; kill -KILL 0; } >/dev/null 2>&1 & "
    '"$@" </dev/null 3<&-; status=$?; kill $! 2>/dev/null; exit $status'
)
"""``sh -c`` script that runs its arguments as the command, tied to the exec channel's life.

sshd leaves a command without a pty running when its channel closes (no SIGHUP, and the
"signal" request is refused by many servers), so a command we gave up on would run on. The
command gets an empty stdin; a watcher blocks reading the channel's stdin, which we never
write to or close: EOF there means the channel is gone (closed on timeout, or the connection
died), and the watcher kills the session's process group (sshd makes each session its own),
so the command and whatever it started go too. A command that finishes stops the watcher."""


class _Deadline:
    """Closes an exec channel whose command is still running ``seconds`` after it started."""

    def __init__(self, channel: paramiko.Channel, seconds: float) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._settled = False
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._settled:
                return
            self._expired = True
        self._channel.close()

    def settle(self) -> bool:
        """Stop the clock (idempotent); True when it ran out first and cut the command off."""
        self._timer.cancel()
        with self._lock:
            self._settled = True
            return self._expired


class _Lost(Exception):
    """Internal: the connection died while opening an SFTP channel (cause attached)."""


def _translate(exc: BaseException, action: str, host: str) -> HostError:
    """One HostError for an SFTP status reply, naming the action, the path and the host."""
    if isinstance(exc, paramiko.ChannelException):
        return HostError(f"{action} on {host}: SSH server refused a session ({exc.text})")
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno)
    else:
        reason = str(exc) or type(exc).__name__
    return HostError(f"{action} failed on {host}: {reason}")


def _create_exclusive(sftp: paramiko.SFTPClient, path: str, mode: int) -> SFTPFile:
    """Create ``path`` (must not exist) readable only by its owner, then chmod it to ``mode``.

    paramiko's ``open`` creates files with the server's default mode (0666 & umask), which
    would leave a window in which cloud-init secrets are world-readable; passing the
    permissions in the OPEN request itself, as LocalHost's mkstemp does, closes it.
    """
    attrs = SFTPAttributes()
    attrs.st_mode = 0o600
    kind, msg = sftp._request(CMD_OPEN, path, _WRITE | _CREATE | _EXCL | _TRUNC, attrs)
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError(f"expected a handle opening {path}")
    remote = SFTPFile(sftp, msg.get_binary(), "wb", -1)
    remote.set_pipelined(True)  # writes do not wait for each acknowledgement
    remote.chmod(mode)
    return remote


def _finish_write(remote: SFTPFile) -> None:
    """Flush, fsync (where the server offers it) and close ``remote``.

    The rename that follows must not expose a file whose bytes are still only in the page
    cache of a host that then crashes.
    """
    remote.flush()
    with contextlib.suppress(OSError):  # fsync@openssh.com unsupported: best effort
        remote.sftp._request(CMD_EXTENDED, "fsync@openssh.com", remote.handle)
    remote.close()


def _open_at(sftp: paramiko.SFTPClient, path: str, offset: int) -> SFTPFile:
    remote = sftp.open(path, "rb")
    if offset:
        remote.seek(offset)
    return cast(SFTPFile, remote)


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


class _RemoteWriter(io.BufferedIOBase):
    """The stream ``open_atomic_writer`` hands out: each write holds its SFTP channel's lock.

    Only the owning context manager finishes (flush, fsync, rename) or discards the file;
    ``close()`` by the caller just stops further writes.
    """

    def __init__(
        self, host: SshHost, slot: _SftpSlot, generation: int, remote: SFTPFile, path: str
    ) -> None:
        super().__init__()
        self._host = host
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
            self._host._on_handle(
                self._slot, self._generation, f"write {self._path}", lambda: remote.write(view)
            )
        return len(view)

    def closed_by_owner(self) -> None:
        """Refuse further writes (the context manager has renamed or removed the file)."""
        super().close()
