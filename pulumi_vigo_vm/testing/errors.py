"""Exceptions raised by the engine harness.

Every failure the real ``pulumi`` CLI would report is turned into one of these, so tests can
``pytest.raises`` the precise kind of failure (a provider error is not a program bug, and neither
is a policy violation). Each carries the partial :class:`~pulumi_vigo_vm.testing.results.RunResult`
of the run in ``result`` once the run is over, because the steps that did succeed matter too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    """A mandatory policy violation stopped a resource step (or the stack)."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("policy violations:\n" + "\n".join(f"  - {v}" for v in violations))


class DeploymentAborted(HarnessError):
    """A step was refused because an earlier step of the same run had failed.

    The engine stops starting new steps after the first failure; registrations that arrive
    later are not processed. This is reported to the program, never as the run's error.
    """
