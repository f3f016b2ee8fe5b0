"""The process-wide SSH hosts: one :class:`~.host.SshHost`, so one connection, per target.

The engine calls the provider from up to ten threads at once; an SSH handshake costs tens
to hundreds of milliseconds and sshd rate-limits unauthenticated connections
(``MaxStartups``). So every URI reaching the same account, route, keys and known_hosts
files (:attr:`~.target.SshTarget.key`) shares one host object and so one transport; a URI
that differs in those gets its own, verified and authenticated with its own files. Jump
hosts are looked up here too, so a bastion used directly and as a ProxyJump is one
connection. Everything is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import threading

from .destination import SshTarget, TargetKey, resolve_ssh_target
from .host import SshHost

__all__ = ["close_all_ssh_hosts", "host_for_target", "ssh_host_for_uri"]

_registry_lock = threading.Lock()
_hosts: dict[TargetKey, SshHost] = {}
_hosts_by_uri: dict[str, SshHost] = {}


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
    host = host_for_target(resolve_ssh_target(uri))
    with _registry_lock:
        _hosts_by_uri[uri] = host
    return host


def host_for_target(target: SshTarget) -> SshHost:
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
