"""The analyzer host: what the engine shows policy packs, and what their verdicts do.

The engine asks every analyzer about each resource after ``Check`` and ``Diff`` and before the
step runs (``Analyze``, from ``generateSteps``), and about the whole stack at the end
(``AnalyzeStack``, from ``AnalyzeResources``; both in pkg/resource/deploy/step_generator.go).
This module builds those views (:class:`~.hooks.PlannedStep`, :class:`~.hooks.StackResource`)
and records the violations on the run's result: advisory ones as warnings, mandatory ones as an
error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from pulumi.runtime.proto import resource_pb2

from . import props
from .errors import PolicyViolationError, Violation
from .hooks import PlannedStep, StackResource
from .state import ResourceState
from .steps import Plan, dependencies

if TYPE_CHECKING:
    from .deployment import Deployment

__all__ = ["analyze_stack", "analyze_step", "judge", "planned_step", "stack_resources"]

FinalResource = tuple[str, str, props.PropertyMap, list[str]]
"""(type, id, outputs, dependencies) of a resource as returned to the program."""


def planned_step(
    request: resource_pb2.RegisterResourceRequest,
    urn: str,
    plan: Plan,
    old: ResourceState | None,
    *,
    preview: bool,
) -> PlannedStep:
    """The step as shown to ``Analyze``: checked inputs and old outputs without the pickled
    provider, secrets unwrapped (and named), plus the wire-form properties and options."""
    inputs = {k: v for k, v in plan.checked.items() if k != props.PROVIDER_KEY}
    olds = {k: v for k, v in (old.outputs if old else {}).items() if k != props.PROVIDER_KEY}
    return PlannedStep(
        urn=urn,
        name=request.name,
        type=request.type,
        op=plan.op,
        inputs=props.unwrap_secrets(inputs),
        old_outputs=props.unwrap_secrets(olds),
        secret_inputs=frozenset(props.secret_keys(inputs)),
        replaces=plan.replaces,
        diffs=plan.diffs,
        preview=preview,
        properties=inputs,
        dependencies=tuple(dependencies(request)),
        options={
            "protect": bool(request.protect),
            "delete_before_replace": bool(request.deleteBeforeReplace),
            "ignore_changes": list(request.ignoreChanges),
            "replace_on_changes": list(request.replaceOnChanges),
            "retain_on_delete": bool(request.retainOnDelete),
        },
    )


def stack_resources(final: Mapping[str, FinalResource]) -> list[StackResource]:
    """The stack as shown to ``AnalyzeStack``: every resource as returned to the program."""
    resources = []
    for urn, (type_, id_, wire, deps) in final.items():
        outputs = {k: v for k, v in wire.items() if k != props.PROVIDER_KEY}
        resources.append(
            StackResource(
                urn=urn,
                name=urn.split("::", 3)[-1],
                type=type_,
                id=id_,
                outputs=props.unwrap_secrets(outputs),
                secret_outputs=frozenset(props.secret_keys(outputs)),
                properties=outputs,
                dependencies=tuple(deps),
            )
        )
    return resources


def analyze_step(
    run: Deployment,
    request: resource_pb2.RegisterResourceRequest,
    urn: str,
    plan: Plan,
    old: ResourceState | None,
) -> None:
    """Ask every analyzer about one planned step; a mandatory violation stops an update."""
    if not run.h.analyzers:
        return
    step = planned_step(request, urn, plan, old, preview=run.preview)
    violations: list[Violation] = []
    for analyzer in run.h.analyzers:
        violations += [v if v.urn else replace(v, urn=urn) for v in analyzer.analyze(step)]
    judge(run, violations, stop=not run.preview)


def analyze_stack(run: Deployment) -> None:
    """Ask every analyzer about the whole stack once the program has finished."""
    if not run.h.analyzers:
        return
    with run.lock:
        resources = stack_resources(run.final)
    violations: list[Violation] = []
    for analyzer in run.h.analyzers:
        violations += list(analyzer.analyze_stack(resources))
    judge(run, violations, stop=False)


def judge(run: Deployment, violations: list[Violation], *, stop: bool) -> None:
    """Advisory violations become warnings; mandatory ones an error.

    During an update a mandatory violation stops the step (raised); during a preview the
    engine keeps going to show every violation, so it is only recorded.
    """
    mandatory = [v for v in violations if v.mandatory]
    with run.lock:
        run.result.warnings += [v for v in violations if not v.mandatory]
    if not mandatory:
        return
    error = PolicyViolationError(mandatory)
    if stop:
        raise error
    run.error(error)
