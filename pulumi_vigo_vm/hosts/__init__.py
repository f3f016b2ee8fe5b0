"""Where files and commands of a hypervisor run: picked from the libvirt URI.

``qemu:///system`` (and any URI without a remote transport) is this machine;
``qemu+ssh://[user@]host[:port]/system[?keyfile=...]`` is a remote host over SSH.
libvirt itself (calls, connections, the SSH tunnel) is :mod:`pulumi_vigo_vm.virt`.
"""

from __future__ import annotations

from ..common.uri import LibvirtUri
from ..errors import HostError
from .base import CommandResult, FileStat, Host
from .local import LocalHost

__all__ = ["CommandResult", "FileStat", "Host", "LocalHost", "host_for_uri", "is_remote_uri"]

_LOCAL = LocalHost()


def is_remote_uri(uri: str) -> bool:
    """True when ``uri`` names a transport that reaches another machine (``qemu+ssh://``)."""
    return LibvirtUri.read(uri, lax_port=True).is_remote


def host_for_uri(uri: str) -> Host:
    """The host that a libvirt URI reaches. Remote hosts are cached per URI and thread-safe."""
    parsed = LibvirtUri.read(uri, lax_port=True)
    if not parsed.is_remote:
        return _LOCAL
    if parsed.is_ssh:
        from .ssh import ssh_host_for_uri

        return ssh_host_for_uri(uri)
    raise HostError(
        f"uri {parsed.redacted()!r}: transport {parsed.scheme!r} is not supported; use qemu+ssh://"
    )
