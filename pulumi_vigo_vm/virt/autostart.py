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

from .hypervisor import Guest, Hypervisor

__all__ = ["KEPT_S", "autostart_of"]

KEPT_S = 10.0
"""Seconds a host's listing answers for."""

_lock = threading.Lock()
_hosts: dict[str, tuple[threading.Lock, list[tuple[float, dict[str, bool]]]]] = {}


def autostart_of(hypervisor: Hypervisor, guest: Guest, uuid: str) -> bool:
    """The autostart flag of ``guest`` (whose UUID is ``uuid``) on ``hypervisor``: from the
    host's listing while it is fresh, else from the domain itself."""
    flags = _listing(hypervisor)
    found = flags.get(uuid) if flags is not None else None
    return guest.autostart() if found is None else found


def _listing(hypervisor: Hypervisor) -> dict[str, bool] | None:
    """The host's listing: the kept one while it is fresh, else one taken now; None while
    another thread takes it (asking one domain is quicker than waiting for all of them:
    a preview's first diffs all arrive at once)."""
    with _lock:
        taking, kept = _hosts.setdefault(hypervisor.uri, (threading.Lock(), []))
    if kept and time.monotonic() - kept[0][0] <= KEPT_S:
        return kept[0][1]
    if not taking.acquire(blocking=False):
        return None
    try:
        if not kept or time.monotonic() - kept[0][0] > KEPT_S:
            kept[:] = [(time.monotonic(), hypervisor.autostart_flags())]
        return kept[0][1]
    finally:
        taking.release()
