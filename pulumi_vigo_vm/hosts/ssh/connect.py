"""Opening one authenticated SSH connection, with the host-key policy.

The only place a paramiko client is connected: the server's key must be one the target's
known_hosts files trust (:mod:`.known_hosts`); an unknown key is refused with its
fingerprint and the fix, since trust-on-first-use would let a first deploy against a
spoofed host silently succeed. A key marked ``@revoked`` is not trusted, so it is refused
too (before authentication, like every host-key refusal), with a message naming the file.
Each refusal and each failure to reach or authenticate becomes one
:class:`~pulumi_vigo_vm.errors.HostUnreachableError` saying what to do. Connections opened
are counted, since one per host per run is the goal (:func:`opened_ssh_connection_count`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeAlias

import paramiko

from ...errors import HostUnreachableError
from .destination import SshTarget
from .known_hosts import HostTrust, read_known_hosts

__all__ = [
    "CONNECT_TIMEOUT",
    "KEEPALIVE_INTERVAL",
    "ProxySocket",
    "connect",
    "opened_ssh_connection_count",
]

CONNECT_TIMEOUT = 15.0
"""Seconds for TCP connect, banner and authentication before the host counts as unreachable."""
KEEPALIVE_INTERVAL = 15
"""Seconds between keepalives: keeps NAT/firewall state alive and notices a dead peer."""

ProxySocket: TypeAlias = paramiko.Channel | paramiko.ProxyCommand | None
"""What carries a connection: a jump host's channel, a ProxyCommand, or None for TCP."""

_opened_lock = threading.Lock()
_opened = 0


def _count_opened() -> None:
    global _opened
    with _opened_lock:
        _opened += 1


def opened_ssh_connection_count() -> int:
    """SSH connections (transports) this process has opened; one per host per run is the goal."""
    return _opened


class _UnknownHostKeyError(paramiko.SSHException):  # type: ignore[misc]
    """The server's key is in no known_hosts file; carries the key for the message."""

    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class _RefuseUnknownHostKey(paramiko.RejectPolicy):  # type: ignore[misc]
    """RejectPolicy that keeps the offered key, so the error can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        raise _UnknownHostKeyError(key)


def connect(target: SshTarget, proxy: Callable[[], ProxySocket]) -> paramiko.SSHClient:
    """A client authenticated to ``target`` over what ``proxy()`` returns (None: dial TCP).

    Every failure is a :class:`HostUnreachableError` that says what to do about it.
    """
    trust = read_known_hosts(target)
    client = paramiko.SSHClient()
    for key in trust.trusted:
        client.get_host_keys().add(target.known_hosts_name, key.get_name(), key)
    # Both refusals below happen before authentication: a revoked key is not trusted,
    # so it reaches the policy (or mismatches a trusted key of its type).
    client.set_missing_host_key_policy(_RefuseUnknownHostKey())
    try:
        sock = proxy()
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
        raise _host_key_refused(target, trust, exc) from exc
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
    target: SshTarget,
    trust: HostTrust,
    exc: _UnknownHostKeyError | paramiko.BadHostKeyException,
) -> HostUnreachableError:
    """Why the key the server offered is not accepted, and what to do about it."""
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
