"""The step rules: what op a registration becomes, as pure functions over recorded state.

These are the decisions of the engine's step generator (pkg/resource/deploy/step_generator.go)
and its diff fallback (``diffResource``), kept free of RPCs, threads and checkpoints so they can
be read and reviewed on their own: ``ignore_changes``, create/same/update/replace from a
``Diff``, ``replace_on_changes``, which order a replace uses (delete-before-replace), the
re-creation of dependents deleted ahead of one, and which dependents a delete-before-replace
must replace first (``calculateDependentReplacements``). :mod:`.stepgen` feeds them the
provider's ``Check``/``Diff`` answers; :mod:`.executor` carries the resulting :class:`Plan` out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pulumi.runtime.proto import provider_pb2, resource_pb2

from . import props
from .errors import UnsupportedResourceError
from .providerhost import DiffResult
from .results import Op
from .state import ResourceState

__all__ = [
    "DIFF_NONE",
    "DIFF_SOME",
    "DIFF_UNKNOWN",
    "Plan",
    "apply_ignore_changes",
    "decide_diff",
    "delete_before_replace",
    "dependencies",
    "dependent_replacements",
    "recreate_plan",
    "refresh_diffs",
]

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
DIFF_UNKNOWN = provider_pb2.DiffResponse.DIFF_UNKNOWN


@dataclass(frozen=True)
class Plan:
    """The engine's decision for one registered resource."""

    op: Op
    checked: props.PropertyMap
    replaces: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()
    delete_before_replace: bool = False


def dependencies(request: resource_pb2.RegisterResourceRequest) -> list[str]:
    """A registration's dependencies: ``dependsOn`` and every property dependency, sorted."""
    deps = set(request.dependencies)
    for entry in request.propertyDependencies.values():
        deps.update(entry.urns)
    return sorted(deps)


def apply_ignore_changes(
    news: props.PropertyMap, old_inputs: props.PropertyMap, keys: list[str], urn: str
) -> props.PropertyMap:
    """Apply ``ignore_changes`` (top-level property names only) the engine's way: an ignored
    key keeps its old input value, or is dropped when it had none."""
    result = dict(news)
    for key in keys:
        if any(c in key for c in ".[]*"):
            raise UnsupportedResourceError(
                f"{urn}: ignore_changes path {key!r}: only top-level property names are supported"
            )
        if key in old_inputs:
            result[key] = old_inputs[key]
        else:
            result.pop(key, None)
    return result


def recreate_plan(checked: props.PropertyMap, replaces: tuple[str, ...]) -> Plan:
    """The engine's "Case 1: recreating": a resource deleted earlier in this run as a dependent
    of a delete-before-replace is a replacement (checked without olds, no ``Diff``)."""
    return Plan(op="replace", checked=checked, replaces=replaces, delete_before_replace=True)


def delete_before_replace(provider_choice: bool, *, defined: bool, requested: bool) -> bool:
    """Which order a replace uses: the ``delete_before_replace`` option, when set (even to
    ``False``), overrides the provider's choice; an older SDK that only sends ``True`` forces
    it on."""
    if defined:
        return requested
    if requested:
        return True
    return provider_choice


LEGACY_REFRESH_DIFF = "PULUMI_ENABLE_LEGACY_REFRESH_DIFF"
"""The engine's opt-in to the old refresh display: only output changes, no ``Diff``."""


def refresh_diffs(
    diff: DiffResult | None, old_outputs: props.PropertyMap, new_outputs: props.PropertyMap
) -> tuple[str, ...]:
    """What a refresh step shows, as the engine does since pulumi 3.117 (pulumi#16146): the
    provider's ``Diff`` of the read state (olds) against the desired inputs (news), so a
    change of an output-only value (a VigoDisk's ``attached_to``) is no drift. DIFF_NONE
    shows nothing; a DIFF_SOME names its keys, or (a provider that names none, or
    ``diff`` None under :data:`LEGACY_REFRESH_DIFF`) the outputs that changed."""
    if diff is not None and diff.changes == DIFF_NONE:
        return ()
    if diff is not None and diff.changes == DIFF_SOME and diff.diffs:
        return tuple(diff.diffs)
    return tuple(props.changed_keys(old_outputs, new_outputs))


def decide_diff(
    diff: DiffResult,
    old_inputs: props.PropertyMap,
    checked: props.PropertyMap,
    *,
    replace_on_changes: Iterable[str],
    delete_before_replace_defined: bool,
    delete_before_replace_requested: bool,
) -> Plan:
    """Turn an existing resource's ``Diff`` into same/update/replace (``checked`` as given).

    DIFF_UNKNOWN falls back to comparing old and new inputs (the engine's ``diffResource``),
    as does a DIFF_SOME that names no keys; ``replace_on_changes`` turns changed keys (or, for
    ``"*"``, all) into replacements. A replace's ``checked`` is the caller's to redo: the
    engine re-runs ``Check`` without olds, so defaults are recomputed for the new instance.
    """
    changes = diff.changes
    diffs = list(diff.diffs)
    if changes == DIFF_UNKNOWN:
        diffs = props.changed_keys(old_inputs, checked)
        changes = DIFF_SOME if diffs else DIFF_NONE
    elif changes == DIFF_SOME and not diffs:
        diffs = props.changed_keys(old_inputs, checked)
    if changes != DIFF_SOME:
        return Plan(op="same", checked=checked)

    replaces = list(diff.replaces)
    for key in replace_on_changes:
        for changed in diffs:
            if (key == "*" or key == changed) and changed not in replaces:
                replaces.append(changed)
    if not replaces:
        return Plan(op="update", checked=checked, diffs=tuple(diffs))
    return Plan(
        op="replace",
        checked=checked,
        replaces=tuple(replaces),
        diffs=tuple(diffs),
        delete_before_replace=delete_before_replace(
            diff.delete_before_replace,
            defined=delete_before_replace_defined,
            requested=delete_before_replace_requested,
        ),
    )


def dependent_replacements(
    root: ResourceState,
    candidates: Sequence[ResourceState],
    diff: Callable[[ResourceState, props.PropertyMap], DiffResult],
) -> list[tuple[ResourceState, tuple[str, ...]]]:
    """What a delete-before-replace of ``root`` must replace first, in registration order.

    The engine's ``calculateDependentReplacements`` (step_generator.go): of the ``candidates``
    (the recorded resources not yet registered in this run, in registration order, which is
    dependency order) transitively depending on ``root``, those a replacement would replace:
    the inputs whose property dependencies are in the replace set become unknown and the
    provider's ``Diff`` (``diff(resource, news)``) decides. Returns each with its replace keys;
    the caller deletes them in reverse order and re-creates them when they register.
    """
    dependents: set[str] = {root.urn}
    replace_set: set[str] = {root.urn}
    to_replace: list[tuple[ResourceState, tuple[str, ...]]] = []
    for res in candidates:
        if res.urn == root.urn or not dependents.intersection(res.dependencies):
            continue
        dependents.add(res.urn)
        inputs = dict(res.inputs)
        touched = False
        for key, urns in res.property_dependencies.items():
            if key in inputs and replace_set.intersection(urns):
                inputs[key] = props.UNKNOWN
                touched = True
        if not touched:
            continue
        result = diff(res, inputs)
        if result.changes == DIFF_SOME and result.replaces:
            replace_set.add(res.urn)
            to_replace.append((res, tuple(result.replaces)))
    return to_replace
