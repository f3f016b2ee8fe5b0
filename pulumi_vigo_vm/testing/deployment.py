"""One verb's run (``preview``/``up``/``refresh``/``destroy``): its state and its order of work.

The harness's counterpart of the engine's ``Deployment`` and deployment executor
(pkg/resource/deploy/deployment.go, deployment_executor.go): it holds what a run shares (the
old and new checkpoint, the result, the lock, step slots, alias claims, the provider process)
and sequences the jobs done by the other modules: pending deletes first, then the program
(:mod:`.program`, whose registrations become steps through :mod:`.monitor`, :mod:`.stepgen`
and :mod:`.executor`), the stack analysis (:mod:`.analysis`), then the deletes of what the
program no longer registers (:mod:`.deletes`). ``refresh`` reads every resource instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent import futures
from typing import TYPE_CHECKING

from . import props
from .aliases import AliasTable
from .analysis import FinalResource, analyze_stack
from .deletes import delete_all
from .elision import outputs_must_write
from .errors import HarnessError, ProgramError
from .program import run_program, tail
from .providerhost import DynamicProviderHost
from .results import RunResult, Step, Verb
from .state import ResourceState, load_snapshot, save_snapshot
from .steps import LEGACY_REFRESH_DIFF, refresh_diffs

if TYPE_CHECKING:
    from .engine import EngineHarness

__all__ = ["Deployment"]


class Deployment:
    """One verb's execution: shared run state, orchestration and checkpoint writer."""

    def __init__(self, harness: EngineHarness, verb: Verb) -> None:
        self.h = harness
        self.verb: Verb = verb
        self.preview = verb == "preview"
        self.base = load_snapshot(harness.state_file)
        self.state = self.base.copy()
        self.state.project = harness.project
        self.state.stack = harness.stack
        self.result = RunResult(verb=verb)
        self.lock = threading.RLock()
        self.slots = threading.BoundedSemaphore(harness.parallel)
        self.registered: set[str] = set()
        # The step generator's alias bookkeeping (sg.aliased / sg.aliases, and the old
        # components' URNs), see :class:`~.aliases.AliasTable`.
        self.alias_table = AliasTable(self.base, project=harness.project, stack=harness.stack)
        self.aborted = False
        self.in_flight = 0
        self.idle = threading.Condition(self.lock)
        self.stack_outputs: props.PropertyMap | None = None
        # urn -> (type, id, outputs, dependencies) as returned to the program, for AnalyzeStack.
        self.final: dict[str, FinalResource] = {}
        # Old instances replaced create-before-delete in this run; their deletion is part of
        # the replace step, not a step of its own.
        self.replaced: list[ResourceState] = []
        # Old URN -> replace keys of dependents deleted ahead of a delete-before-replace; when
        # they register again they are re-created (the engine's sg.deletes/"recreating").
        self.recreating: dict[str, tuple[str, ...]] = {}
        self._provider: DynamicProviderHost | None = None
        self._provider_lock = threading.Lock()
        self._warm_up: threading.Thread | None = None
        # The engine's hasElidedWrites: true until a write, so a run writes at least once.
        self._elided = True

    # -- orchestration ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        try:
            if self.verb == "refresh":
                self._refresh()
            elif self.verb == "destroy":
                delete_all(
                    self,
                    list(self.state.pending_deletes) + self.state.ordered(),
                    clear_outputs=True,
                )
            else:
                self._deploy()
        except HarnessError as exn:
            self.error(exn)
        finally:
            if self._warm_up is not None:
                self._warm_up.join()  # else a provider started late would outlive the run
            self._flush()
            if self._provider is not None:
                self._provider.close()
        return self.result

    def _deploy(self) -> None:
        if not self.preview and self.state.pending_deletes:
            # Replaced resources whose deletion did not happen last time go first.
            delete_all(self, list(self.state.pending_deletes), clear_outputs=False)
            if self.result.errors:
                return
        # Start the provider while the program starts up; registrations wait for it anyway.
        self._warm_up = threading.Thread(target=self._warm_provider, daemon=True)
        self._warm_up.start()
        exit_code, output = run_program(self)
        self.result.program_output = output
        if self.result.errors:
            return
        if exit_code != 0:
            raise ProgramError(
                f"the program failed (exit code {exit_code}):\n{tail(output)}", output
            )
        analyze_stack(self)
        if self.result.errors:
            return
        # An old resource claimed through an alias lives on under its new URN (the engine's
        # GenerateDeletes skips what isOperatedOn, which follows sg.aliased).
        removed = [
            r
            for r in self.base.ordered()
            if r.urn not in self.registered and r.urn not in self.alias_table.aliased
        ]
        for gone in [r for r in removed if r.urn in self.recreating]:
            # Deleted ahead of a delete-before-replace and not registered again: that delete
            # was its delete step.
            self.record(Step(urn=gone.urn, name=gone.name, type=gone.type, op="delete", id=gone.id))
        removed = [r for r in removed if r.urn not in self.recreating]
        with self.lock:
            removed_now = [self.state.resources[r.urn] for r in removed]
            condemned = list(self.state.pending_deletes) + removed_now
        delete_all(self, condemned, clear_outputs=False)
        if self.stack_outputs is not None and not self.result.errors:
            self.result.outputs = props.unwrap_secrets(self.stack_outputs)
            self.result.secret_outputs = frozenset(props.secret_keys(self.stack_outputs))
            if not self.preview:
                with self.lock:
                    changed = outputs_must_write(self.state.outputs, self.stack_outputs)
                    self.state.outputs = self.stack_outputs
                    self.checkpoint(must_write=changed)

    def _refresh(self) -> None:
        """``Read`` each resource (concurrently); drop the gone, record what is there, and
        show what ``Diff`` of the read state against the recorded inputs says (see
        :func:`~.steps.refresh_diffs`)."""
        resources = self.state.ordered()

        def read(res: ResourceState) -> None:
            id_, outs, ins = self.provider().read(
                res.urn, res.id, outputs=res.outputs, inputs=res.inputs
            )
            with self.lock:
                if not id_:
                    del self.state.resources[res.urn]
                    self.checkpoint()
                    self.record(
                        Step(urn=res.urn, name=res.name, type=res.type, op="delete", id=res.id)
                    )
                    return
                new = res.copy()
                new.id = id_
                new.outputs = props.mark_secret_keys(
                    props.annotate_secrets(outs, res.outputs), res.additional_secret_outputs
                )
                if ins is not None:
                    new.inputs = props.annotate_secrets(ins, res.inputs)
            diff = None
            if self.h._child_env().get(LEGACY_REFRESH_DIFF, "").lower() not in ("1", "true"):
                diff = self.provider().diff(
                    res.urn, id_, old_outputs=new.outputs, old_inputs=new.inputs, news=res.inputs
                )
            with self.lock:
                self.state.resources[res.urn] = new
                self.checkpoint()
                self.record(
                    Step(
                        urn=res.urn,
                        name=res.name,
                        type=res.type,
                        op="read",
                        diffs=refresh_diffs(diff, res.outputs, new.outputs),
                        id=id_,
                    )
                )

        with futures.ThreadPoolExecutor(max_workers=self.h.parallel) as pool:
            list(pool.map(lambda r: self.guarded(read, r), resources))

    # -- provider ---------------------------------------------------------------------------------

    def provider(self) -> DynamicProviderHost:
        """The run's provider process, started on first use and shut down when the run ends."""
        with self._provider_lock:
            if self._provider is None:
                env = self.h._child_env()
                host = DynamicProviderHost(
                    config=self.h.config, env=env, cwd=self.h._cwd(), rpc_timeout=self.h.rpc_timeout
                )
                host.start()
                host.remember_secrets(*(r.inputs for r in self.base.resources.values()))
                host.remember_secrets(*(r.outputs for r in self.base.resources.values()))
                self._provider = host
            return self._provider

    def _warm_provider(self) -> None:
        # A failure here is reported again, with context, by the first registration needing it.
        with contextlib.suppress(HarnessError):
            self.provider()

    # -- bookkeeping -----------------------------------------------------------------------------

    def commit(self, new: ResourceState, *, old_urn: str = "", must_write: bool = True) -> None:
        """Record ``new``; if its old state was found under the alias ``old_urn``, that entry
        is gone and every reference to it names the new URN (the snapshot's
        ``NormalizeURNReferences``, pkg/resource/deploy/snapshot.go). ``must_write`` false:
        the write may be elided (see :meth:`checkpoint`)."""
        with self.lock:
            if old_urn:
                self.state.resources.pop(old_urn, None)
                for res in [*self.state.resources.values(), *self.state.pending_deletes]:
                    res.dependencies = [new.urn if d == old_urn else d for d in res.dependencies]
                    if res.parent == old_urn:
                        res.parent = new.urn
            self.state.resources[new.urn] = new
            self.checkpoint(must_write=must_write)

    def checkpoint(self, *, must_write: bool = True) -> None:
        """Write the checkpoint (not in a preview); with ``must_write`` false, only note an
        elided write, which the next write or the end of the run (:meth:`_flush`) makes, as
        the engine does (see :mod:`.elision`)."""
        if self.preview:
            return
        with self.lock:
            if must_write:
                save_snapshot(self.h.state_file, self.state)
            self._elided = not must_write

    def _flush(self) -> None:
        """Write what elided writes left out, once the run is over (the engine's flush when
        its snapshot manager closes: after a failed run too)."""
        if self._elided:
            self.checkpoint()

    def record(self, step: Step) -> None:
        """Add a step to the run's result."""
        with self.lock:
            self.result.steps.append(step)

    def error(self, error: HarnessError, *, abort: bool = False) -> None:
        """Add an error to the run's result; with ``abort`` no further step starts."""
        with self.lock:
            self.result.errors.append(error)
            if abort:
                self.aborted = True

    def guarded(self, fn: Callable[[ResourceState], None], res: ResourceState) -> None:
        """``fn(res)``, a harness error recorded instead of raised."""
        try:
            fn(res)
        except HarnessError as exn:
            self.error(exn)
