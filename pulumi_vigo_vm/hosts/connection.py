"""libvirt connections by URI: opened lazily, reused by every call in the process.

The engine runs one provider process for a whole deployment and calls it from several
threads at once; opening a connection per call costs ~1 ms locally and ~300 ms over SSH.
So connections live in a module-level, lock-protected cache (never on the pickled provider)
and a connection found dead is replaced transparently on next use.
"""

from __future__ import annotations

import threading

import libvirt

from ..errors import HostUnreachableError
from . import is_remote_uri

__all__ = ["forget_connection", "libvirt_connection"]

_lock = threading.Lock()
_connections: dict[str, libvirt.virConnect] = {}


def _silence_default_error_handler() -> None:
    """libvirt prints every error to stderr by default; we raise them as exceptions instead."""

    def ignore(_ctx: object, _err: object) -> None:
        return None

    libvirt.registerErrorHandler(ignore, None)


_silence_default_error_handler()


def _open(uri: str) -> libvirt.virConnect:
    """Open ``uri``; a remote one rides on the host's shared SSH transport."""
    if is_remote_uri(uri):
        from .libvirt_tunnel import open_libvirt_over_ssh

        return open_libvirt_over_ssh(uri)
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise HostUnreachableError(
            f"cannot connect to libvirt at {_redacted(uri)}: {exc.get_error_message()}. "
            "Is libvirtd running, and may this user use its socket (root, or the libvirt "
            "group)?"
        ) from exc


def _redacted(uri: str) -> str:
    """``uri`` without its query (key paths and options are noise in an error)."""
    return uri.split("?", 1)[0]


def libvirt_connection(uri: str) -> libvirt.virConnect:
    """The shared connection to ``uri``, opened on first use and reopened if it died."""
    with _lock:
        conn = _connections.get(uri)
        if conn is not None:
            try:
                if conn.isAlive() == 1:
                    return conn
            except libvirt.libvirtError:
                pass
        conn = _open(uri)
        _connections[uri] = conn
        return conn


def forget_connection(uri: str, conn: libvirt.virConnect | None = None) -> None:
    """Drop the cached connection to ``uri`` (only if it is still ``conn``, when given)."""
    with _lock:
        cached = _connections.get(uri)
        if cached is not None and (conn is None or cached is conn):
            del _connections[uri]
