"""host_is_libvirt: the Pulumi counterpart of ``when: "host_is_libvirt"``."""

from __future__ import annotations

from .common.uri import DEFAULT_URI
from .hosts import host_for_uri

__all__ = ["LIBVIRT_SOCKETS", "host_is_libvirt"]

LIBVIRT_SOCKETS = ("/var/run/libvirt/libvirt-sock", "/run/libvirt/libvirt-sock")


def host_is_libvirt(uri: str | None = None) -> bool:
    """True when the host that ``uri`` reaches (default ``qemu:///system``, this machine)
    has a libvirt socket. Over ``qemu+ssh://`` the check runs on the remote host."""
    host = host_for_uri(uri or DEFAULT_URI)
    return any(host.stat(path) is not None for path in LIBVIRT_SOCKETS)
