"""Fault injection at the executor's step boundaries: a TEST HOOK, off unless asked for.

Private and tiny on purpose: the provider imports it, so it imports nothing from
``pulumi_vigo_vm.testing`` (tests use it through ``pulumi_vigo_vm.vm.faults``).

The provider process reads ``VIGO_FAULT_INJECT`` once per plan it applies and, when it is
set, passes the resulting hook as the :class:`~pulumi_vigo_vm.vm.effects.Executor`'s
``before_step``. Tests set it in the environment of the provider process (the engine
harness passes ``EngineHarness(env=...)`` on) to prove that a run interrupted at any step
boundary leaves nothing behind that the next run cannot converge. Never set it in
production.

Grammar: a comma-separated list of ``<kind>-before:<action>[@<vm_name>]``

* ``kind`` is ``kill`` (the provider process dies at once, SIGKILL: no rollback, no reply),
  ``fail`` (the step raises :class:`InjectedFault`, so a create rolls back as for any
  other error), ``sleep`` (the step waits :data:`SLEEP_S` first: widens the window in
  which a test can break something underneath, e.g. restart libvirtd) or ``meet`` (the
  step waits until as many calls reached it as there are ``meet`` faults for that action:
  proves that many run at once in the process; after :data:`MEET_TIMEOUT_S` without them
  it raises :class:`InjectedFault`);
* ``action`` is an :class:`~pulumi_vigo_vm.vm.axes.Action` value (``write-seed``,
  ``create-overlay``, ``define``, ``start``, ...);
* ``@vm_name`` limits the fault to one VM.

Example: ``VIGO_FAULT_INJECT=kill-before:define`` or ``fail-before:start@web01``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import VigoError
from .axes import Action
from .effects import StepHook

__all__ = [
    "ENV_VAR",
    "MEET_TIMEOUT_S",
    "SLEEP_S",
    "Fault",
    "InjectedFault",
    "hook_from_env",
    "parse_faults",
]

ENV_VAR = "VIGO_FAULT_INJECT"
_KINDS = ("kill", "fail", "sleep", "meet")
SLEEP_S = 0.5
MEET_TIMEOUT_S = 60.0
"""How long a ``meet`` waits for the others: a bound on a deadlock, not a measurement."""

_meetings: dict[Action, threading.Barrier] = {}
_meetings_lock = threading.Lock()


def _meeting(action: Action, parties: int) -> threading.Barrier:
    """The process's one barrier for ``action`` (every call of the process shares it)."""
    with _meetings_lock:
        return _meetings.setdefault(action, threading.Barrier(parties, timeout=MEET_TIMEOUT_S))


class InjectedFault(VigoError):
    """The error a ``fail-before:<action>`` fault raises."""


@dataclass(frozen=True)
class Fault:
    """One injected fault: what to do, before which action, for which VM (None: any)."""

    kind: str
    action: Action
    vm_name: str | None = None


def parse_faults(text: str) -> list[Fault]:
    """Parse the ``VIGO_FAULT_INJECT`` grammar. Raises ValueError on anything else."""
    faults: list[Fault] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        trigger, _, target = item.partition(":")
        kind, sep, when = trigger.partition("-")
        if not sep or when != "before" or kind not in _KINDS:
            raise ValueError(f"{ENV_VAR}: {item!r} is not <kill|fail|sleep>-before:<action>[@vm]")
        action_name, _, vm_name = target.partition("@")
        try:
            action = Action(action_name)
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise ValueError(f"{ENV_VAR}: unknown action {action_name!r}; one of {known}") from None
        faults.append(Fault(kind, action, vm_name or None))
    return faults


def hook_from_env(vm_name: str, environ: Mapping[str, str] | None = None) -> StepHook | None:
    """The before_step hook ``VIGO_FAULT_INJECT`` asks for (for ``vm_name``), or None."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    every = parse_faults(text)
    faults = [f for f in every if f.vm_name in (None, vm_name)]
    if not faults:
        return None

    def before_step(action: Action) -> None:
        for fault in faults:
            if fault.action is not action:
                continue
            if fault.kind == "sleep":
                time.sleep(SLEEP_S)
                continue
            if fault.kind == "meet":
                parties = sum(1 for f in every if f.kind == "meet" and f.action is action)
                try:
                    _meeting(action, parties).wait()
                except threading.BrokenBarrierError:
                    raise InjectedFault(
                        f"{vm_name}: fewer than {parties} calls reached {action.value} at once"
                    ) from None
                continue
            if fault.kind == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise InjectedFault(f"injected fault before {action.value} of {vm_name}")

    return before_step
