"""Which checkpoint writes the engine elides (pkg/backend/snapshot.go, ``SnapshotManager``).

The engine writes the snapshot after every step, except when the step's mutation says the
write may be elided: a ``same`` step with no meaningful change (``sameSnapshotMutation
.mustWrite``, :func:`same_step_must_write`) and ``RegisterResourceOutputs`` with equal outputs
(:func:`outputs_must_write`). An elided write is flushed by the next write or, at the
latest, when the run ends (``defaultServiceLoop``, whose ``hasElidedWrites`` starts true:
every run writes at least once). So a no-op ``up`` of N resources writes once, not N times.

Pure decisions over recorded states; :class:`~.deployment.Deployment` does the writing.
"""

from __future__ import annotations

from . import props
from .state import ResourceState

__all__ = ["outputs_must_write", "same_step_must_write"]


def same_step_must_write(old: ResourceState, new: ResourceState) -> bool:
    """Whether the ``same`` step from ``old`` to ``new`` must be written: the engine's
    ``sameSnapshotMutation.mustWrite`` (pkg/backend/snapshot.go), field for field.

    A ``same`` step only means ``Diff`` found no change in the inputs, so the state may still
    differ. Compared, in the engine's order: the URN (changed by an alias), the type,
    ``retain_on_delete``, the parent, ``protect``, the inputs and the outputs (by
    :func:`~.props.deep_equals`), and the dependencies (sorted: their order is not a change).
    Not compared, as in the engine: the property dependencies, ``additional_secret_outputs``
    and the registration order (the harness's own); they reach the file with the next write.
    The id is the old one by construction (the engine asserts it). The harness records none
    of the engine's other fields (custom: only custom resources are recorded; custom
    timeouts, provider reference, ``deletedWith``, ``replaceWith``, hooks, replacement
    trigger), so they cannot change.
    """
    return (
        old.urn != new.urn
        or old.type != new.type
        or old.retain_on_delete != new.retain_on_delete
        or old.parent != new.parent
        or old.protect != new.protect
        or not props.deep_equals(old.inputs, new.inputs)
        or not props.deep_equals(old.outputs, new.outputs)
        or sorted(old.dependencies) != sorted(new.dependencies)
    )


def outputs_must_write(old: props.PropertyMap, new: props.PropertyMap) -> bool:
    """Whether registering the stack's outputs ``new`` over ``old`` must be written: the
    engine's ``SnapshotManager.RegisterResourceOutputs`` elides equal outputs."""
    return not props.deep_equals(old, new)
