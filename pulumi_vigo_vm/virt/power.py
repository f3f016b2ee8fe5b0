"""PowerState: a domain's run state as libvirt reports it, in our vocabulary.

It lives with libvirt (:mod:`.hypervisor` maps libvirt's ``VIR_DOMAIN_*`` states onto it) but
imports nothing: pure decisions compare with it without reaching libvirt.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PowerState"]


class PowerState(StrEnum):
    """A domain's run state as libvirt reports it, in our vocabulary."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting-down"
    SHUTOFF = "stopped"
    CRASHED = "crashed"
    SUSPENDED = "pmsuspended"
    UNKNOWN = "unknown"

    @property
    def is_active(self) -> bool:
        """True while a qemu process exists for the domain."""
        return self in (
            PowerState.RUNNING,
            PowerState.PAUSED,
            PowerState.SHUTTING_DOWN,
            PowerState.SUSPENDED,
            PowerState.UNKNOWN,
        )
