"""The step generator: ``Check`` and ``Diff`` a registration against its old state, then plan.

This is the provider-facing half of pkg/resource/deploy/step_generator.go: it makes the RPCs
(``Check``, ``Diff``) the engine makes before deciding a step, and hands their answers to the
pure rules in :mod:`.steps`, which decide the :class:`~.steps.Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi.runtime.proto import resource_pb2

from . import props
from .errors import CheckFailedError
from .providerhost import DiffResult, DynamicProviderHost
from .state import ResourceState
from .steps import Plan, apply_ignore_changes, decide_diff, dependent_replacements, recreate_plan

__all__ = ["check", "plan_step", "replacements_before_delete"]


def check(
    provider: DynamicProviderHost,
    urn: str,
    olds: props.PropertyMap,
    news: props.PropertyMap,
) -> props.PropertyMap:
    """``Check``; failures raise :class:`~.errors.CheckFailedError`."""
    checked, failures = provider.check(urn, olds, news)
    if failures:
        raise CheckFailedError(urn, failures)
    # The provider cannot see secrets; keep the secret bit on same-named inputs.
    return props.annotate_secrets(checked, news)


def plan_step(
    provider: DynamicProviderHost,
    request: resource_pb2.RegisterResourceRequest,
    urn: str,
    news: props.PropertyMap,
    old: ResourceState | None,
    recreating: Mapping[str, tuple[str, ...]],
) -> Plan:
    """Decide the step as the engine's step generator does.

    ``ignore_changes`` keeps the old input values (top-level keys); ``Check(olds=old
    inputs, news)``; then for an existing resource ``Diff``, decided by
    :func:`~.steps.decide_diff`; a replacement re-runs ``Check`` without olds, so defaults are
    recomputed for the new instance. ``recreating`` maps the old URNs of dependents deleted
    ahead of a delete-before-replace in this run to their replace keys.
    """
    if old is not None and old.urn in recreating:
        # The engine's "Case 1: recreating": deleted earlier in this run as a dependent of a
        # delete-before-replace, so it is a replacement; Check without olds, no Diff.
        return recreate_plan(check(provider, urn, {}, news), recreating[old.urn])
    if old is not None and request.ignoreChanges:
        news = apply_ignore_changes(news, old.inputs, list(request.ignoreChanges), urn)
    checked = check(provider, urn, old.inputs if old else {}, news)
    if old is None:
        return Plan(op="create", checked=checked)

    diff = provider.diff(
        urn,
        old.id,
        old_outputs=old.outputs,
        old_inputs=old.inputs,
        news=checked,
        ignore_changes=request.ignoreChanges,
    )
    plan = decide_diff(
        diff,
        old.inputs,
        checked,
        replace_on_changes=request.replaceOnChanges,
        delete_before_replace_defined=request.deleteBeforeReplaceDefined,
        delete_before_replace_requested=bool(request.deleteBeforeReplace),
    )
    if plan.op != "replace":
        return plan
    return Plan(
        op="replace",
        checked=check(provider, urn, {}, news),
        replaces=plan.replaces,
        diffs=plan.diffs,
        delete_before_replace=plan.delete_before_replace,
    )


def replacements_before_delete(
    provider: DynamicProviderHost, root: ResourceState, candidates: Sequence[ResourceState]
) -> list[tuple[ResourceState, tuple[str, ...]]]:
    """:func:`~.steps.dependent_replacements` with the provider's ``Diff`` deciding."""

    def diff(res: ResourceState, news: props.PropertyMap) -> DiffResult:
        return provider.diff(
            res.urn, res.id, old_outputs=res.outputs, old_inputs=res.inputs, news=news
        )

    return dependent_replacements(root, candidates, diff)
