"""Moved to :mod:`pulumi_vigo_vm.virt.connection`; this path keeps working."""

from __future__ import annotations

from ..virt.connection import (
    _connections,
    _lock,
    forget_connection,
    libvirt_connection,
)

# _connections and _lock are private: bench/profile.py empties the cache to start cold
__all__ = ["_connections", "_lock", "forget_connection", "libvirt_connection"]
