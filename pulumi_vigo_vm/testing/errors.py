"""Exceptions raised by the engine harness.

Every failure the real ``pulumi`` CLI would report is turned into one of these, so tests can
``pytest.raises`` the precise kind of failure (a provider error is not a program bug, and neither
is a policy violation). Each carries the partial :class:`~pulumi_vigo_vm.testing.results.RunResult`
of the run in ``result`` once the run is over, because the steps that did succeed matter too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .results import RunResult


class HarnessError(Exception):
    """Base class of every error the harness reports."""

    result: RunResult | None = None
    """The run's (partial) result, attached when the verb finishes."""


class ProviderError(HarnessError):
    """A provider RPC failed (the dynamic provider aborted the call with a traceback)."""

    def __init__(self, method: str, urn: str, message: str) -> None:
        self.method = method
        self.urn = urn
        self.message = message
        super().__init__(f"{method} of {urn} failed: {message}")


@dataclass(frozen=True)
class CheckFailure:
    """One failure returned by ``Check``: the offending property (may be empty) and why."""

    property: str
    reason: str

    def __str__(self) -> str:
        return f"{self.property}: {self.reason}" if self.property else self.reason


class CheckFailedError(HarnessError):
    """``Check`` rejected a resource's inputs; no further step was taken for it."""

    def __init__(self, urn: str, failures: list[CheckFailure]) -> None:
        self.urn = urn
        self.failures = failures
        lines = "\n".join(f"  - {failure}" for failure in failures)
        super().__init__(f"{urn} has {len(failures)} invalid input(s):\n{lines}")


class ProgramError(HarnessError):
    """The Pulumi program itself failed (exception, non-zero exit) or could not be started."""

    def __init__(self, message: str, output: str = "") -> None:
        self.output = output
        super().__init__(message)


class UnsupportedResourceError(HarnessError):
    """The program registered something the harness cannot drive (not a dynamic resource)."""


@dataclass(frozen=True)
class Violation:
    """A policy finding reported by an :class:`~pulumi_vigo_vm.testing.hooks.Analyzer`."""

    policy: str
    message: str
    urn: str = ""
    mandatory: bool = True

    def __str__(self) -> str:
        where = f" ({self.urn})" if self.urn else ""
        level = "mandatory" if self.mandatory else "advisory"
        return f"[{level}] {self.policy}{where}: {self.message}"


class PolicyViolationError(HarnessError):
    """A mandatory policy violation stopped a resource step (or the stack).

    Raised by the engine harness for its analyzers' violations and by
    :class:`~pulumi_vigo_vm.testing.policy.PolicyRunner`'s ``enforce`` for a pack's: one
    class, so one ``except`` catches a policy refusal however the pack was asked.
    ``violations`` are the mandatory findings; ``diagnostics`` every diagnostic of the pack
    call that raised it (advisories too), empty when no pack call did.
    """

    def __init__(
        self, violations: Sequence[Violation], diagnostics: Sequence[Diagnostic] = ()
    ) -> None:
        self.violations = list(violations)
        self.diagnostics = list(diagnostics)
        super().__init__("policy violations:\n" + "\n".join(f"  - {v}" for v in violations))


class DeploymentAborted(HarnessError):
    """A step was refused because an earlier step of the same run had failed.

    The engine stops starting new steps after the first failure; registrations that arrive
    later are not processed. This is reported to the program, never as the run's error.
    """
