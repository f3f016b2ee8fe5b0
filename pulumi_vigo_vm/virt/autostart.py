"""Domains' autostart flags for a look (a diff, a refresh), listed once per host for many VMs.

A no-op diff compares each VM's autostart flag with its input (the flag is not in the
domain XML). Asked per VM, that is one libvirt call per VM; one listing of the host answers
all of a preview's diffs (:meth:`~.hypervisor.Hypervisor.autostart_flags`: two calls).
A listing answers for :data:`KEPT_S` seconds: long enough for a preview's diffs, which the
engine sends together, short enough that a diff the engine sends later in a long ``up``
(after a dependency's create) sees the flag as it is then, not as it was at the start.
A domain the listing does not know (defined after it) is asked itself.

Only looks read this: a plan that changes the flag asks the domain itself
(:meth:`~.hypervisor.Guest.autostart`), as before. Thread-safe: while one diff takes the
listing, the others ask their own domain rather than wait.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .hypervisor import Guest, Hypervisor

__all__ = ["KEPT_S", "autostart_of"]

KEPT_S = 10.0
"""Seconds a host's listing answers for."""


@dataclass
class _Host:
    """One host's listing: ``kept`` is (when taken, the flags by UUID), replaced whole."""

    taking: threading.Lock = field(default_factory=threading.Lock)
    kept: tuple[float, dict[str, bool]] | None = None


_lock = threading.Lock()
_hosts: dict[str, _Host] = {}


def autostart_of(hypervisor: Hypervisor, guest: Guest, uuid: str) -> bool:
    """The autostart flag of ``guest`` (whose UUID is ``uuid``) on ``hypervisor``: from the
    host's listing while it is fresh, else from the domain itself."""
    flags = _listing(hypervisor)
    found = flags.get(uuid) if flags is not None else None
    return guest.autostart() if found is None else found


def _fresh(taken_at: float) -> bool:
    return time.monotonic() - taken_at <= KEPT_S


def _listing(hypervisor: Hypervisor) -> dict[str, bool] | None:
    """The host's listing: the kept one while it is fresh, else one taken now; None while
    another thread takes it (asking one domain is quicker than waiting for all of them:
    a preview's first diffs all arrive at once)."""
    with _lock:
        host = _hosts.setdefault(hypervisor.uri, _Host())
    kept = host.kept
    if kept is not None and _fresh(kept[0]):
        return kept[1]
    if not host.taking.acquire(blocking=False):
        return None
    try:
        kept = host.kept
        if kept is None or not _fresh(kept[0]):
            kept = host.kept = (time.monotonic(), hypervisor.autostart_flags())
        return kept[1]
    finally:
        host.taking.release()
