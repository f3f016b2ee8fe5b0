"""Waiting for a guest: until it has an address (``wait_for="ip"``) or cloud-init finished
this boot (``wait_for="ready"``), or ``wait_timeout_s`` passed.

Only ``create`` and ``update`` wait (``preview`` and ``refresh`` look once). A wait holds one
of the provider server's threads for its whole length; :mod:`pulumi_vigo_vm.dynamic.parallel` lets
the server run the waits of a whole ``up`` side by side. A timeout keeps the VM: its domain
carries our claim, so the next ``up`` adopts it and waits again. The error names what was
awaited, the last cloud-init stage seen and the console log's path, and quotes no console
text (user-data scripts echo secrets there).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...errors import VigoError
from ..inputs import WaitFor
from ..spec import VmSpec
from .console import describe_progress
from .sighting import Sighting, Subject, sight

__all__ = ["POLL_S", "WaitError", "wait_for_guest"]

POLL_S = 2.0
"""Between two looks: a look is a few libvirt calls and a bounded read of the console log."""


class WaitError(VigoError):
    """The guest did not become what ``wait_for`` asks within ``wait_timeout_s``, or stopped."""


def _satisfied(wait_for: WaitFor, seen: Sighting) -> bool:
    if wait_for is WaitFor.IP:
        return seen.addresses.ip_address is not None
    return seen.console.finished


def _what(wait_for: WaitFor) -> str:
    if wait_for is WaitFor.IP:
        return "an IPv4 address on its first NIC"
    return "cloud-init to finish this boot"


def wait_for_guest(
    subject: Subject,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Sighting:
    """Look at ``subject`` every :data:`POLL_S` until its ``wait_for`` holds; raise
    WaitError when its ``wait_timeout_s`` passes first or the guest stops.

    The deadline holds to within one look: the last sleep ends at the deadline, and a look
    is bounded whatever the guest does (the console's bytes, lines and patterns are bounded,
    see :mod:`pulumi_vigo_vm.vm.guest.console`; the agent has a response timeout,
    :data:`pulumi_vigo_vm.virt.hypervisor.AGENT_TIMEOUT_S`)."""
    spec, guest, console_log = subject.spec, subject.guest, subject.console_log
    deadline = clock() + spec.wait_timeout_s
    while True:
        seen = sight(subject)
        if _satisfied(spec.wait_for, seen):
            return seen
        if spec.wait_for is WaitFor.READY and seen.console.final_failed:
            raise _error(spec, seen, console_log, "cloud-init's final stage failed")
        if not guest.power_state().is_active:
            raise _error(spec, seen, console_log, "the guest stopped")
        left = deadline - clock()
        if left <= 0:
            raise _error(spec, seen, console_log, f"not within {spec.wait_timeout_s} s")
        sleep(min(POLL_S, left))


def _error(spec: VmSpec, seen: Sighting, console_log: str, why: str) -> WaitError:
    unavailable = ", ".join(s.value for s in seen.addresses.unavailable)
    sources = f"; sources unavailable on this host: {unavailable}" if unavailable else ""
    return WaitError(
        f"{spec.vm_name}: waited for {_what(spec.wait_for)}: {why}. Seen: "
        f"{describe_progress(seen.console)}{sources}. The console log is {console_log} on "
        f"{spec.uri}. The VM is kept: once the cause is fixed, `pulumi up` adopts it and "
        "waits again"
    )
