"""Who, where and through what: a ``qemu+ssh://`` URI merged with ``~/.ssh/config``.

The first step of reaching an SSH host, kept apart from connecting so it can be reasoned
about (and unit-tested) without a server: which account on which address and port, which
private keys to offer, which known_hosts files vouch for the host, and which ProxyJump or
ProxyCommand carries the connection. The URI wins over ssh_config, as ``ssh -p/-l/-i`` win
over the file, so a URI reaches the account ``virsh -c`` with it would. :attr:`SshTarget.key`
is what the registry shares one connection by.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, replace
from typing import Any

import paramiko

from ...common.uri import LibvirtUri
from ...errors import HostError, HostUnreachableError

__all__ = [
    "DEFAULT_PORT",
    "MAX_JUMP_HOPS",
    "SshTarget",
    "TargetKey",
    "jump_target",
    "resolve_ssh_target",
]

DEFAULT_PORT = 22
MAX_JUMP_HOPS = 8
"""ProxyJump chains longer than this are refused."""

_SYSTEM_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")

TargetKey = tuple[str, str, int, str, str, tuple[str, ...], tuple[str, ...]]
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
    def key(self) -> TargetKey:
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
    try:
        parsed, bad_port = LibvirtUri.read(uri), False
    except ValueError:  # the port (an unbalanced "[" raises again, as it always did)
        parsed, bad_port = LibvirtUri.read(uri, lax_port=True), True
    if not parsed.host:
        raise HostError(
            f"uri {parsed.redacted()!r} names no host; use qemu+ssh://[user@]host[:port]/system"
        )
    if bad_port:
        raise HostError(f"uri {parsed.redacted()!r} has an invalid port")
    return _resolve(
        parsed.host,
        user=parsed.user or "",
        port=parsed.port,
        keyfile=parsed.keyfile,
        known_hosts=parsed.known_hosts,
        shown=parsed.redacted(),
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


def jump_target(target: SshTarget) -> SshTarget:
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
