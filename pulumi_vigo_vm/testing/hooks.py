"""Extension points of the harness engine, for policy packs and other observers.

The real engine asks every analyzer (policy pack) about each resource after ``Check`` and
``Diff`` and before the step runs, in previews and updates alike, and about the whole stack at
the end; mandatory violations stop the resource step. ``pulumi up`` also runs a preview before
updating. The harness exposes the same seams: pass ``analyzers=[...]`` to
:class:`~pulumi_vigo_vm.testing.engine.EngineHarness` and use ``up(preview_first=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .errors import Violation
from .results import Op


@dataclass(frozen=True)
class PlannedStep:
    """What the engine is about to do to one resource, as shown to analyzers.

    ``inputs`` are the checked inputs with secrets unwrapped (``secret_inputs`` names those that
    are secret) and without the pickled ``__provider``; ``old_outputs`` likewise, empty for a
    create. In a preview some values may be :data:`~pulumi_vigo_vm.testing.props.UNKNOWN`.
    ``properties`` is the same bag in wire form (secrets wrapped, unknowns as the sentinel
    string), i.e. what the engine marshals into an ``AnalyzeRequest``; with ``type``, ``urn``
    and ``name`` it makes a step usable wherever an analyzed resource is expected.
    """

    urn: str
    name: str
    type: str
    op: Op
    inputs: dict[str, Any]
    old_outputs: dict[str, Any]
    secret_inputs: frozenset[str]
    replaces: tuple[str, ...]
    diffs: tuple[str, ...]
    preview: bool
    properties: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackResource:
    """A resource as it stands at the end of a run, for stack-level analysis.

    ``outputs`` have secrets unwrapped; ``properties`` is the wire form (what ``AnalyzeStack``
    receives). In a preview, resources not created yet show their planned inputs.
    """

    urn: str
    name: str
    type: str
    id: str
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    properties: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()


@runtime_checkable
class Analyzer(Protocol):
    """A policy pack (or any checker) consulted by the engine.

    Both methods return violations; mandatory ones fail the step (or the run), advisory ones are
    reported as warnings in the result.
    """

    def analyze(self, step: PlannedStep) -> Sequence[Violation]:
        """Judge one resource before its step runs."""
        ...

    def analyze_stack(self, resources: Sequence[StackResource]) -> Sequence[Violation]:
        """Judge the final set of resources after the program has run."""
        ...
