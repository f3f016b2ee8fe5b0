"""Moved to :mod:`pulumi_vigo_vm.virt.tunnel`; this path keeps working."""

from __future__ import annotations

from ..virt.tunnel import (
    ACCEPT_TIMEOUT,
    CHUNK,
    STDERR_LIMIT,
    SYSTEM_SOCKET,
    RemoteDaemon,
    _Relay,
    open_libvirt_over_ssh,
)

__all__ = [
    "ACCEPT_TIMEOUT",
    "CHUNK",
    "STDERR_LIMIT",
    "SYSTEM_SOCKET",
    "RemoteDaemon",
    "_Relay",
    "open_libvirt_over_ssh",
]
