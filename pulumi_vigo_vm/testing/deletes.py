"""Deletes: their order (dependents before dependencies), and carrying them out.

Mirrors the engine's delete scheduling (``ScheduleDeletes``/``GenerateDeletes`` in
pkg/resource/deploy/step_generator.go) and the delete step (step.go's ``DeleteStep``):
:func:`delete_schedule` is the pure ordering; :func:`delete_all` runs a schedule with up to
``parallel`` deletes at once; :func:`delete_dependents_first` clears the way for a
delete-before-replace.
"""

from __future__ import annotations

import threading
from concurrent import futures
from typing import TYPE_CHECKING

from .errors import HarnessError
from .providerhost import DynamicProviderHost
from .results import Step
from .state import ResourceState
from .stepgen import replacements_before_delete

if TYPE_CHECKING:
    from .deployment import Deployment

__all__ = ["delete_all", "delete_dependents_first", "delete_one", "delete_schedule"]


def delete_schedule(
    condemned: list[ResourceState],
) -> tuple[list[ResourceState], list[list[int]]]:
    """Order deletes: reverse registration order, and for each the indexes (into that order)
    of the condemned resources depending on it or parented to it, which must go first.

    Dependents register after what they depend on, so they come earlier in the order; only
    looking backwards also rules out waiting cycles.
    """
    ordered = sorted(condemned, key=lambda r: r.order, reverse=True)
    waits = [
        [
            j
            for j, other in enumerate(ordered[:i])
            if res.urn in other.dependencies or res.urn == other.parent
        ]
        for i, res in enumerate(ordered)
    ]
    return ordered, waits


def delete_all(run: Deployment, condemned: list[ResourceState], *, clear_outputs: bool) -> None:
    """Delete resources in reverse registration order, dependents before dependencies.

    A resource's delete starts once every condemned resource depending on it (or parented
    to it) is gone, so independent deletes overlap up to ``parallel`` at a time, as with
    the engine's ``ScheduleDeletes``; with ``parallel=1`` the order is exactly the reverse
    registration order. After a failure no further delete starts.
    """
    ordered, wait_on = delete_schedule(condemned)
    done = [threading.Event() for _ in ordered]
    waits = [[done[j] for j in indexes] for indexes in wait_on]

    def work(i: int) -> None:
        try:
            for event in waits[i]:
                event.wait()
            if not run.result.errors:
                run.guarded(lambda res: delete_one(run, res), ordered[i])
        finally:
            done[i].set()

    if run.h.parallel == 1:
        for i in range(len(ordered)):
            work(i)
    else:
        with futures.ThreadPoolExecutor(max_workers=run.h.parallel) as pool:
            list(pool.map(work, range(len(ordered))))
    if clear_outputs and not run.result.errors and not run.preview:
        with run.lock:
            run.state.outputs = {}
            run.checkpoint()


def delete_dependents_first(
    run: Deployment, provider: DynamicProviderHost, root: ResourceState
) -> None:
    """Delete, dependents first, what a delete-before-replace of ``root`` would break.

    The engine's ``calculateDependentReplacements`` (step_generator.go, see
    :func:`~.steps.dependent_replacements`): of the resources transitively depending on
    ``root`` (not yet registered in this run, so their recorded dependencies still hold),
    those a replacement would replace are deleted now, in reverse dependency order, and
    re-created when they register.
    """
    with run.lock:
        candidates = [r for r in run.state.ordered() if r.urn not in run.registered]
    to_replace = replacements_before_delete(provider, root, candidates)
    for res, keys in reversed(to_replace):
        if res.protect:
            raise HarnessError(
                f"unable to replace resource {res.urn!r} as part of replacing {root.urn!r} "
                "as it is currently marked for protection"
            )
        delete_one(run, res, record_step=False)
        with run.lock:
            run.recreating[res.urn] = keys


def delete_one(run: Deployment, res: ResourceState, *, record_step: bool = True) -> None:
    """Delete one resource (unless retained) and drop it from the checkpoint."""
    if res.protect and not run.preview:
        raise HarnessError(
            f"unable to delete protected resource {res.urn}; remove the protect option first"
        )
    if not run.preview and not res.retain_on_delete:
        run.provider().delete(res.urn, res.id, outputs=res.outputs, inputs=res.inputs)
    if not run.preview:
        with run.lock:
            pending = [p for p in run.state.pending_deletes if p is not res]
            if len(pending) != len(run.state.pending_deletes):
                run.state.pending_deletes = pending
            else:
                run.state.resources.pop(res.urn, None)
            run.checkpoint()
    if record_step and all(r is not res for r in run.replaced):
        run.record(Step(urn=res.urn, name=res.name, type=res.type, op="delete", id=res.id))
