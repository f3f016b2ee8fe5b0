"""What a policy pack is asked about and what it answers, and which answers block a step.

Why a module of its own: these are the values tests and the engine harness hold
(:class:`Resource` to ask about, :class:`Diagnostic` for an answer) and the one rule on
them, that only a ``mandatory`` violation stops ``pulumi up``. They need no running pack,
so a test can build and judge them without starting one; :mod:`.policy` runs the pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from pulumi.runtime.proto import analyzer_pb2

from .errors import PolicyViolationError, Violation
from .policy_config import LEVEL_NAMES
from .props import UNKNOWN

__all__ = [
    "UNKNOWN_SENTINEL",
    "AnalyzedResource",
    "Diagnostic",
    "Resource",
    "from_proto",
    "make_urn",
    "mandatory_violations",
    "raise_on_mandatory",
    "to_violation",
]

UNKNOWN_SENTINEL: Final = UNKNOWN
"""How the engine marshals any unknown (computed) value for an analyzer: KeepUnknowns
turns every unknown into the *string* unknown sentinel, whatever its eventual type. It is
:data:`UNKNOWN` itself: put it in a resource's properties to send an unknown value."""


class AnalyzedResource(Protocol):
    """What the runner needs of a resource; any object with these attributes will do."""

    @property
    def type(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


def make_urn(type_: str, name: str, *, project: str = "test", stack: str = "test") -> str:
    """The URN the engine gives a top-level resource ``name`` of type ``type_``."""
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


@dataclass(frozen=True)
class Resource:
    """A resource as the analyzer sees it: type, URN, name and (input) properties."""

    type: str
    urn: str
    name: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        type_: str,
        name: str,
        properties: Mapping[str, Any],
        *,
        project: str = "test",
        stack: str = "test",
    ) -> Resource:
        """A top-level resource with the URN the engine would give it."""
        return cls(type_, make_urn(type_, name, project=project, stack=stack), name, properties)


@dataclass(frozen=True)
class Diagnostic:
    """One policy violation reported by the pack."""

    policy_name: str
    message: str
    enforcement_level: str
    """``"advisory"`` or ``"mandatory"`` (``"disabled"``/``"remediate"`` never reach here)."""
    urn: str
    """The resource in violation; empty for a stack-wide violation."""
    description: str = ""
    policy_pack_name: str = ""

    @property
    def mandatory(self) -> bool:
        """Whether this violation must stop ``pulumi up``."""
        return self.enforcement_level == "mandatory"


def from_proto(d: analyzer_pb2.AnalyzeDiagnostic, default_urn: str = "") -> Diagnostic:
    """A pack's ``AnalyzeDiagnostic`` as a :class:`Diagnostic`; ``default_urn`` where it
    names no resource."""
    return Diagnostic(
        policy_name=d.policyName,
        message=d.message,
        enforcement_level=LEVEL_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)),
        urn=d.urn or default_urn,
        description=d.description,
        policy_pack_name=d.policyPackName,
    )


def to_violation(diagnostic: Diagnostic) -> Violation:
    """A pack diagnostic as a harness violation: only ``mandatory`` ones block a step."""
    return Violation(
        policy=diagnostic.policy_name,
        message=diagnostic.message,
        urn=diagnostic.urn,
        mandatory=diagnostic.mandatory,
    )


def mandatory_violations(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics that block an update."""
    return [d for d in diagnostics if d.mandatory]


def raise_on_mandatory(diagnostics: Sequence[Diagnostic]) -> None:
    """Raise :class:`PolicyViolationError` if any diagnostic is mandatory.

    The error's ``violations`` are the mandatory ones; its ``diagnostics`` all of them.
    """
    mandatory = mandatory_violations(diagnostics)
    if mandatory:
        raise PolicyViolationError([to_violation(d) for d in mandatory], diagnostics)
