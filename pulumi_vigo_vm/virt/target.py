"""A hypervisor as the provider reaches it: files and commands, and libvirt."""

from __future__ import annotations

from dataclasses import dataclass

from ..hosts import Host, host_for_uri
from .hypervisor import Hypervisor

__all__ = ["Target"]


@dataclass(frozen=True)
class Target:
    """A hypervisor as two views: files and commands (``host``) and libvirt (``hypervisor``)."""

    host: Host
    hypervisor: Hypervisor

    @classmethod
    def for_uri(cls, uri: str) -> Target:
        return cls(host_for_uri(uri), Hypervisor(uri))
