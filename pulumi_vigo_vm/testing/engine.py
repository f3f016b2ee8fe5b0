"""An in-process stand-in for the Pulumi engine, driving real dynamic providers.

Why this exists: the Pulumi CLI cannot be installed here, yet dynamic providers must be tested
the way ``pulumi up`` drives them, not by calling their methods directly. :class:`EngineHarness`
does what the engine does, step for step:

* the program runs in a child interpreter (:mod:`.languagehost`) under ``set_mocks``; each
  resource registration comes back over gRPC to a ResourceMonitor served here;
* each registration is turned into provider RPCs against one real ``python -m pulumi.dynamic``
  process (:mod:`.providerhost`): ``Check``, then ``Diff`` against the checkpoint, then
  ``Create``/``Update``/replace/nothing, following the engine's rules (see ``_plan``);
* the checkpoint (:mod:`.state`) is written after every successful step; resources the program
  no longer registers are deleted once it has finished, dependents first.

Registrations arrive concurrently (the SDK issues them from a thread pool as soon as their inputs
resolve, so independent resources are in flight together and dependent ones wait for the outputs
they need); at most ``parallel`` steps run at once, like ``pulumi up --parallel``. Note that the
dynamic provider process serves at most four RPCs at a time (its gRPC thread pool), exactly as it
does under the real engine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, resource_pb2, resource_pb2_grpc

from . import props
from ._protocol import EXIT_ABORTED, STACK_TYPE
from .errors import (
    CheckFailedError,
    DeploymentAborted,
    HarnessError,
    PolicyViolationError,
    ProgramError,
    UnsupportedResourceError,
    Violation,
)
from .hooks import Analyzer, PlannedStep, StackResource
from .providerhost import DynamicProviderHost
from .results import Op, RunResult, Step, Verb
from .state import ResourceState, Snapshot, load_snapshot, save_snapshot

__all__ = ["DEFAULT_PARALLEL", "AliasError", "EngineHarness", "Program"]

DEFAULT_PARALLEL = 10
DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"

Program = str | os.PathLike[str] | Callable[[], object]
"""A project directory holding ``__main__.py``, or a zero-argument callable (for tests).

A callable is shipped to the child interpreter with ``dill``: module-level functions of
importable modules travel by reference, closures by value.
"""

_DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
_DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
_DIFF_UNKNOWN = provider_pb2.DiffResponse.DIFF_UNKNOWN


class EngineHarness:
    """Run ``preview``/``up``/``refresh``/``destroy`` of one stack, like the Pulumi CLI would.

    :param program: project directory (with ``__main__.py``; ``Pulumi.yaml``'s ``name`` is used
        as the project name when ``project`` is not given) or a zero-argument callable.
    :param state_file: the JSON checkpoint; created on first ``up``.
    :param config: stack config, namespaced keys (``{"vigo:uri": "qemu:///system"}``), visible to
        ``pulumi.Config`` in the program and sent to the provider's ``Configure``.
    :param secret_config_keys: config keys to treat as secrets in the program.
    :param project: project name (default: from ``Pulumi.yaml`` or ``"project"``).
    :param stack: stack name.
    :param parallel: maximum resource steps in flight (``pulumi up --parallel``).
    :param env: extra environment variables for the program and provider processes, which
        otherwise inherit the caller's environment (``PYTHONPATH`` included).
    :param analyzers: policy hooks consulted before every resource step and at the end.
    :param raise_on_error: raise the run's first error (with ``.result`` attached) instead of
        only listing it in :attr:`RunResult.errors`.
    :param echo: stream the program's output to stderr while it runs (the CLI does).
    :param timeout: seconds after which the program process is killed (``None``: no limit).
    :param rpc_timeout: seconds allowed per provider RPC (``None``: no limit).
    """

    def __init__(
        self,
        program: Program,
        *,
        state_file: str | os.PathLike[str],
        config: Mapping[str, str] | None = None,
        secret_config_keys: Iterable[str] = (),
        project: str | None = None,
        stack: str = "dev",
        parallel: int = DEFAULT_PARALLEL,
        env: Mapping[str, str] | None = None,
        analyzers: Sequence[Analyzer] = (),
        raise_on_error: bool = True,
        echo: bool = False,
        timeout: float | None = None,
        rpc_timeout: float | None = None,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.program = program
        self.state_file = Path(state_file)
        self.config = {str(k): str(v) for k, v in (config or {}).items()}
        self.secret_config_keys = list(secret_config_keys)
        self.program_dir: Path | None = None
        if not callable(program):
            self.program_dir = Path(program).resolve()
            if not (self.program_dir / "__main__.py").is_file():
                raise ProgramError(f"{self.program_dir} has no __main__.py")
        self.project = project or _project_name(self.program_dir) or "project"
        self.stack = stack
        self.parallel = parallel
        self.env = dict(env or {})
        self.analyzers = list(analyzers)
        self.raise_on_error = raise_on_error
        self.echo = echo
        self.timeout = timeout
        self.rpc_timeout = rpc_timeout

    # -- public verbs ----------------------------------------------------------------------------

    def preview(self) -> RunResult:
        """Run the program and compute the plan: ``Check`` and ``Diff`` only, nothing changes.

        Outputs handed to the program follow the engine: unchanged resources get their recorded
        outputs, updated ones their checked inputs, new and replaced ones their checked inputs
        with the ID and any other output unknown.
        """
        return self._finish(_Deployment(self, "preview").run())

    def up(self, *, preview_first: bool = False) -> RunResult:
        """Deploy: run the program and create/update/replace/delete to match it.

        With ``preview_first`` a preview runs first and the update only proceeds when it
        succeeded (as ``pulumi up`` does by default); its errors are returned/raised instead.
        """
        if preview_first:
            previewed = self.preview() if self.raise_on_error else self._quiet_preview()
            if not previewed.ok:
                return previewed
        return self._finish(_Deployment(self, "up").run())

    def refresh(self) -> RunResult:
        """``Read`` every resource and record what is really there (gone ones are dropped)."""
        return self._finish(_Deployment(self, "refresh").run())

    def destroy(self) -> RunResult:
        """Delete every resource, dependents first, and empty the state."""
        return self._finish(_Deployment(self, "destroy").run())

    def snapshot(self) -> Snapshot:
        """The current checkpoint."""
        return load_snapshot(self.state_file)

    # -- internals ---------------------------------------------------------------------------------

    def _quiet_preview(self) -> RunResult:
        return _Deployment(self, "preview").run()

    def _finish(self, result: RunResult) -> RunResult:
        for error in result.errors:
            error.result = result
        if result.errors and self.raise_on_error:
            raise result.errors[0]
        return result

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["PULUMI_PROJECT"] = self.project
        env["PULUMI_STACK"] = self.stack
        env["PULUMI_CONFIG"] = json.dumps(self.config)
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(self.secret_config_keys)
        return env

    def _cwd(self) -> str:
        return str(self.program_dir) if self.program_dir is not None else os.getcwd()


@dataclass(frozen=True)
class _Plan:
    """The engine's decision for one registered resource."""

    op: Op
    checked: props.PropertyMap
    replaces: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()
    delete_before_replace: bool = False


class AliasError(HarnessError):
    """A registration's aliases conflict: the engine reports each conflict (diagnostics 2008
    and 2016) and bails with ``resource <urn> is invalid`` (step_generator.go)."""

    def __init__(self, urn: str, problems: list[str]) -> None:
        self.urn = urn
        self.problems = list(problems)
        super().__init__("\n".join([*problems, f"resource {urn} is invalid"]))


class _Deployment(resource_pb2_grpc.ResourceMonitorServicer):
    """One verb's execution: the monitor servicer, step executor and checkpoint writer."""

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
        # The step generator's alias bookkeeping (pkg/resource/deploy/step_generator.go):
        # ``aliased`` maps an old URN to the new URN that claimed it through an alias,
        # ``aliases`` a new URN to the old URN it was found under (sg.aliased / sg.aliases).
        self.aliased: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        # Components are not recorded in the harness's checkpoint; the trace an old component
        # leaves is the ``parent`` of the resources recorded under it, so those URNs stand for
        # the engine's old component states when a component's aliases are resolved.
        self.old_components: set[str] = {
            r.parent
            for r in [*self.base.resources.values(), *self.base.pending_deletes]
            if r.parent and r.parent not in self.base.resources
        }
        self.aborted = False
        self.in_flight = 0
        self.idle = threading.Condition(self.lock)
        self.stack_outputs: props.PropertyMap | None = None
        # urn -> (type, id, outputs, dependencies) as returned to the program, for AnalyzeStack.
        self.final: dict[str, tuple[str, str, props.PropertyMap, list[str]]] = {}
        # Old instances replaced create-before-delete in this run; their deletion is part of
        # the replace step, not a step of its own.
        self.replaced: list[ResourceState] = []
        # Old URN -> replace keys of dependents deleted ahead of a delete-before-replace; when
        # they register again they are re-created (the engine's sg.deletes/"recreating").
        self.recreating: dict[str, tuple[str, ...]] = {}
        self._provider: DynamicProviderHost | None = None
        self._provider_lock = threading.Lock()
        self._warm_up: threading.Thread | None = None

    # -- orchestration ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        try:
            if self.verb == "refresh":
                self._refresh()
            elif self.verb == "destroy":
                self._delete_all(
                    list(self.state.pending_deletes) + self.state.ordered(), clear_outputs=True
                )
            else:
                self._deploy()
        except HarnessError as exn:
            self._error(exn)
        finally:
            if self._warm_up is not None:
                self._warm_up.join()  # else a provider started late would outlive the run
            if self._provider is not None:
                self._provider.close()
        return self.result

    def _deploy(self) -> None:
        if not self.preview and self.state.pending_deletes:
            # Replaced resources whose deletion did not happen last time go first.
            self._delete_all(list(self.state.pending_deletes), clear_outputs=False)
            if self.result.errors:
                return
        exit_code, output = self._run_program()
        self.result.program_output = output
        if self.result.errors:
            return
        if exit_code != 0:
            raise ProgramError(
                f"the program failed (exit code {exit_code}):\n{_tail(output)}", output
            )
        self._analyze_stack()
        if self.result.errors:
            return
        # An old resource claimed through an alias lives on under its new URN (the engine's
        # GenerateDeletes skips what isOperatedOn, which follows sg.aliased).
        removed = [
            r
            for r in self.base.ordered()
            if r.urn not in self.registered and r.urn not in self.aliased
        ]
        for gone in [r for r in removed if r.urn in self.recreating]:
            # Deleted ahead of a delete-before-replace and not registered again: that delete
            # was its delete step.
            self._record(
                Step(urn=gone.urn, name=gone.name, type=gone.type, op="delete", id=gone.id)
            )
        removed = [r for r in removed if r.urn not in self.recreating]
        with self.lock:
            removed_now = [self.state.resources[r.urn] for r in removed]
            condemned = list(self.state.pending_deletes) + removed_now
        self._delete_all(condemned, clear_outputs=False)
        if self.stack_outputs is not None and not self.result.errors:
            self.result.outputs = props.unwrap_secrets(self.stack_outputs)
            self.result.secret_outputs = frozenset(props.secret_keys(self.stack_outputs))
            if not self.preview:
                with self.lock:
                    self.state.outputs = self.stack_outputs
                    self._checkpoint()

    def _run_program(self) -> tuple[int, str]:
        """Serve the ResourceMonitor, run the program in a child process, wait for all steps."""
        # Start the provider while the program starts up; registrations wait for it anyway.
        self._warm_up = threading.Thread(target=self._warm_provider, daemon=True)
        self._warm_up.start()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.h.parallel + 4))
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        spec: dict[str, Any] = {
            "monitor": f"127.0.0.1:{port}",
            "project": self.h.project,
            "stack": self.h.stack,
            "preview": self.preview,
            "config": self.h.config,
            "secret_config_keys": self.h.secret_config_keys,
            "parallel": self.h.parallel,
            "program_dir": str(self.h.program_dir) if self.h.program_dir else None,
            "program_callable": None,
        }
        if self.h.program_dir is None:
            import dill

            spec["program_callable"] = base64.b64encode(
                dill.dumps(self.h.program, recurse=True)
            ).decode()
        fd, spec_path = tempfile.mkstemp(prefix="pulumi-harness-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(spec, handle)
            proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi_vigo_vm.testing.languagehost", spec_path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.h._cwd(),
                env=self.h._child_env(),
            )
            chunks: list[str] = []
            assert proc.stdout is not None
            reader = threading.Thread(
                target=_collect, args=(proc.stdout, chunks, self.h.echo), daemon=True
            )
            reader.start()
            try:
                exit_code = proc.wait(timeout=self.h.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._error(ProgramError(f"the program timed out after {self.h.timeout}s"))
                exit_code = -9
            reader.join(timeout=10)
            # The program may end (e.g. after an aborted registration) while steps it started
            # are still running: the engine lets them finish and checkpoints them.
            with self.idle:
                while self.in_flight:
                    self.idle.wait()
        finally:
            server.stop(grace=None)
            os.unlink(spec_path)
        output = "".join(chunks)
        if exit_code == EXIT_ABORTED and not self.result.errors:
            self._error(ProgramError("the program was aborted by the engine", output))
        return exit_code, output

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

    # -- ResourceMonitor servicer -----------------------------------------------------------------

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest, context: grpc.ServicerContext
    ) -> resource_pb2.RegisterResourceResponse:
        urn = self._urn(request)
        with self.lock:
            if self.aborted:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
            if urn in self.registered:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"duplicate resource URN {urn}")
            self.registered.add(urn)
            self.in_flight += 1
            order = self.state.next_order
            self.state.next_order += 1
            # Under the lock, in registration order, as the engine's single-threaded step
            # generator does right after generateURN: a child's lookup sees its parent's alias.
            old, old_urn, problems = self._get_old_resource(request, urn)
        try:
            if problems:
                raise AliasError(urn, problems)
            if not request.custom:
                # Components have no provider; the engine only records their URN.
                return resource_pb2.RegisterResourceResponse(urn=urn)
            with self.slots:
                return self._register(request, urn, order, old, old_urn)
        except DeploymentAborted:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        except HarnessError as exn:
            self._error(exn, abort=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        except Exception as exn:  # a harness bug must not hang the program
            self._error(HarnessError(f"internal harness error on {urn}: {exn!r}"), abort=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        finally:
            with self.idle:
                self.in_flight -= 1
                self.idle.notify_all()
        raise AssertionError("unreachable")  # context.abort always raises

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        if _urn_type(request.urn) == STACK_TYPE:
            with self.lock:
                self.stack_outputs = props.from_struct(request.outputs)
        return empty_pb2.Empty()

    # -- the step generator and executor ----------------------------------------------------------

    def _urn(self, request: resource_pb2.RegisterResourceRequest) -> str:
        """The engine's URN: the parent's type is prefixed unless the parent is the root stack."""
        qualified = request.type
        if request.parent and _urn_type(request.parent) != STACK_TYPE:
            qualified = f"{request.parent.split('::')[2]}${request.type}"
        return f"urn:pulumi:{self.h.stack}::{self.h.project}::{qualified}::{request.name}"

    # -- aliases (pkg/resource/deploy/step_generator.go) ------------------------------------------

    def _collapse_alias_to_urn(self, name: str, typ: str, res_parent: str, alias: _Alias) -> str:
        """The engine's ``collapseAliasToUrn``: fill an alias spec's blanks from the resource.

        An unset name/type is the resource's own; an unset parent the resource's parent, and a
        given parent that was itself found under an alias stands for that old URN (the child's
        old URN was built from it); no parent, or the root stack, means a top-level URN; an
        unset project/stack is this deployment's.
        """
        if alias.urn:
            return alias.urn
        # A given parent that was found under an alias stands for its old URN.
        parent = self.aliases.get(alias.parent, alias.parent) if alias.parent else res_parent
        if alias.no_parent or (parent and _urn_qualified_type(parent) == STACK_TYPE):
            parent = ""
        return _create_urn(
            alias.name or name,
            alias.type or typ,
            parent,
            alias.project or self.h.project,
            alias.stack or self.h.stack,
        )

    def _inherited_child_alias(
        self, child_type: str, child_name: str, parent_name: str, parent_alias: str
    ) -> str:
        """The engine's ``inheritedChildAlias``: a child's old URN under its parent's old URN.

        A child named after its parent (``{parent}-suffix``) is assumed to have been named after
        the parent's old name too, so the prefix is swapped for the alias's name.
        """
        alias_name = child_name
        if child_name.startswith(parent_name):
            alias_name = _urn_name(parent_alias) + child_name[len(parent_name) :]
        return _new_urn(
            self.h.stack, self.h.project, _urn_qualified_type(parent_alias), child_type, alias_name
        )

    def _generate_aliases(
        self, name: str, typ: str, parent: str, res_aliases: list[_Alias]
    ) -> list[str]:
        """The engine's ``generateAliases``: the resource's own aliases, then, when its parent
        was found under an alias, the inherited ones (for its current and each aliased
        name/type), without duplicates, in that order."""
        result: list[str] = []

        def add(alias_urn: str) -> None:
            if alias_urn not in result:
                result.append(alias_urn)

        for alias in res_aliases:
            add(self._collapse_alias_to_urn(name, typ, parent, alias))
        parent_alias = self.aliases.get(parent) if parent else None
        if parent_alias is not None:
            parent_name = _urn_name(parent)
            add(self._inherited_child_alias(typ, name, parent_name, parent_alias))
            for alias in res_aliases:
                child_alias = self._collapse_alias_to_urn(name, typ, parent, alias)
                add(
                    self._inherited_child_alias(
                        _urn_type(child_alias), _urn_name(child_alias), parent_name, parent_alias
                    )
                )
        return result

    def _get_old_resource(
        self, request: resource_pb2.RegisterResourceRequest, urn: str
    ) -> tuple[ResourceState | None, str, list[str]]:
        """The engine's ``getOldResource``: (old state, the alias it was found under, errors).

        The URN is looked up first, then each alias in order; the first alias with an old state
        is claimed (recorded so the old one is not deleted, and so children inherit it). A
        claim on an old URN that is also registered in this deployment, or that another
        resource already claimed, and a registration of a URN already claimed as an alias, are
        the engine's diagnostics 2008 and 2016 (sdk/go/common/diag/errors.go, worded alike).
        The engine keeps going to ``Check`` and the analyzers before it bails with ``resource
        <urn> is invalid``; the harness stops at once, as nothing further could succeed.
        Must be called with ``self.lock`` held, in registration order.
        """
        problems: list[str] = []
        aliases = self._generate_aliases(
            request.name, request.type, request.parent, _request_aliases(request)
        )
        previous = self.aliased.get(urn)
        if previous is not None:
            problems.append(
                f"Duplicate resource URN '{urn}' conflicting with alias on resource with URN "
                f"'{previous}'"
            )
        for candidate in [urn, *aliases]:
            old: ResourceState | None = None
            if request.custom:
                old = self.base.resources.get(candidate)
                found = old is not None
            else:
                found = candidate in self.old_components
            if not found:
                continue
            if candidate == urn:
                return old, "", problems
            if candidate in self.registered:
                # The engine passes the new URN twice here (GetDuplicateResourceAliasError).
                problems.append(_duplicate_alias(candidate, urn, urn))
            claimed_by = self.aliased.get(candidate)
            if claimed_by is not None:
                problems.append(_duplicate_alias(candidate, urn, claimed_by))
            self.aliased[candidate] = urn
            self.aliases[urn] = candidate
            return old, candidate, problems
        return None, "", problems

    def _register(
        self,
        request: resource_pb2.RegisterResourceRequest,
        urn: str,
        order: int,
        old: ResourceState | None,
        old_urn: str,
    ) -> resource_pb2.RegisterResourceResponse:
        if not request.type.startswith(DYNAMIC_TYPE_PREFIX):
            raise UnsupportedResourceError(
                f"{urn}: only dynamic resources ({DYNAMIC_TYPE_PREFIX}...) are supported, "
                "the harness has no provider plugin for other packages"
            )
        if request.importId:
            raise UnsupportedResourceError(f"{urn}: import is not supported by the harness")
        if self.aborted:
            raise DeploymentAborted(urn)
        provider = self.provider()
        news = props.from_struct(request.object)
        provider.remember_secrets(news)
        plan = self._plan(provider, request, urn, news, old)
        self._analyze(request, urn, plan, old)

        if self.preview:
            return self._preview_response(request, urn, plan, old, old_urn)

        new = ResourceState(
            urn=urn,
            type=request.type,
            id=old.id if old else "",
            inputs=plan.checked,
            outputs={},
            order=order,
            parent="" if _urn_type(request.parent) == STACK_TYPE else request.parent,
            dependencies=_dependencies(request),
            property_dependencies={
                key: sorted(entry.urns) for key, entry in request.propertyDependencies.items()
            },
            additional_secret_outputs=list(request.additionalSecretOutputs),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
        )
        if plan.op == "same":
            assert old is not None
            new.outputs = old.outputs
        elif plan.op == "update":
            assert old is not None
            if self.aborted:
                raise DeploymentAborted(urn)
            outs = provider.update(
                urn,
                old.id,
                old_outputs=old.outputs,
                old_inputs=old.inputs,
                news=plan.checked,
                ignore_changes=request.ignoreChanges,
            )
            new.outputs = self._secret_outputs(outs, plan.checked, request)
        elif plan.op == "create":
            if self.aborted:
                raise DeploymentAborted(urn)
            new.id, outs = provider.create(urn, plan.checked)
            new.outputs = self._secret_outputs(outs, plan.checked, request)
        else:  # replace
            assert old is not None
            if old.protect and request.protect:
                raise HarnessError(f"unable to replace protected resource {urn}")
            if self.aborted:
                raise DeploymentAborted(urn)
            if old.urn in self.recreating:
                pass  # deleted already, ahead of the delete-before-replace it depended on
            elif plan.delete_before_replace:
                self._delete_dependents_first(provider, old)
                self._delete_one(old, record_step=False)
            new.id, outs = provider.create(urn, plan.checked)
            new.outputs = self._secret_outputs(outs, plan.checked, request)
            if not plan.delete_before_replace and old.urn not in self.recreating:
                # Create-before-delete: the old instance is deleted at the end of the run.
                with self.lock:
                    condemned = old.copy()
                    self.state.pending_deletes.append(condemned)
                    self.replaced.append(condemned)
        self._commit(new, old_urn=old_urn)
        self._record(
            Step(
                urn=urn,
                name=new.name,
                type=new.type,
                op=plan.op,
                replaces=plan.replaces,
                diffs=plan.diffs,
                id=new.id,
                delete_before_replace=plan.delete_before_replace,
                old_urn=old_urn,
            )
        )
        with self.lock:
            self.final[urn] = (new.type, new.id, new.outputs, new.dependencies)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=new.id, object=props.to_struct(new.outputs)
        )

    def _plan(
        self,
        provider: DynamicProviderHost,
        request: resource_pb2.RegisterResourceRequest,
        urn: str,
        news: props.PropertyMap,
        old: ResourceState | None,
    ) -> _Plan:
        """Decide the step as the engine's step generator does.

        ``ignore_changes`` keeps the old input values (top-level keys); ``Check(olds=old
        inputs, news)``; then for an existing resource ``Diff``. DIFF_UNKNOWN falls back to
        comparing old and new inputs (the engine's ``diffResource``); ``replace_on_changes``
        turns changed keys into replacements; the ``delete_before_replace`` option, when set,
        overrides the provider's choice; a replacement re-runs ``Check`` without olds, so
        defaults are recomputed for the new instance.
        """
        if old is not None and old.urn in self.recreating:
            # The engine's "Case 1: recreating": deleted earlier in this run as a dependent of a
            # delete-before-replace, so it is a replacement; Check without olds, no Diff.
            return _Plan(
                op="replace",
                checked=self._check(provider, urn, {}, news),
                replaces=self.recreating[old.urn],
                delete_before_replace=True,
            )
        if old is not None and request.ignoreChanges:
            news = _ignore_changes(news, old.inputs, list(request.ignoreChanges), urn)
        checked = self._check(provider, urn, old.inputs if old else {}, news)
        if old is None:
            return _Plan(op="create", checked=checked)

        diff = provider.diff(
            urn,
            old.id,
            old_outputs=old.outputs,
            old_inputs=old.inputs,
            news=checked,
            ignore_changes=request.ignoreChanges,
        )
        changes = diff.changes
        diffs = list(diff.diffs)
        if changes == _DIFF_UNKNOWN:
            diffs = props.changed_keys(old.inputs, checked)
            changes = _DIFF_SOME if diffs else _DIFF_NONE
        elif changes == _DIFF_SOME and not diffs:
            diffs = props.changed_keys(old.inputs, checked)
        if changes != _DIFF_SOME:
            return _Plan(op="same", checked=checked)

        replaces = list(diff.replaces)
        for key in request.replaceOnChanges:
            for changed in diffs:
                if (key == "*" or key == changed) and changed not in replaces:
                    replaces.append(changed)
        if not replaces:
            return _Plan(op="update", checked=checked, diffs=tuple(diffs))

        dbr = diff.delete_before_replace
        if request.deleteBeforeReplaceDefined:
            dbr = bool(request.deleteBeforeReplace)
        elif request.deleteBeforeReplace:
            dbr = True
        checked = self._check(provider, urn, {}, news)
        return _Plan(
            op="replace",
            checked=checked,
            replaces=tuple(replaces),
            diffs=tuple(diffs),
            delete_before_replace=dbr,
        )

    def _check(
        self,
        provider: DynamicProviderHost,
        urn: str,
        olds: props.PropertyMap,
        news: props.PropertyMap,
    ) -> props.PropertyMap:
        checked, failures = provider.check(urn, olds, news)
        if failures:
            raise CheckFailedError(urn, failures)
        # The provider cannot see secrets; keep the secret bit on same-named inputs.
        return props.annotate_secrets(checked, news)

    @staticmethod
    def _secret_outputs(
        outs: props.PropertyMap,
        checked: props.PropertyMap,
        request: resource_pb2.RegisterResourceRequest,
    ) -> props.PropertyMap:
        annotated = props.annotate_secrets(outs, checked)
        return props.mark_secret_keys(annotated, request.additionalSecretOutputs)

    def _preview_response(
        self,
        request: resource_pb2.RegisterResourceRequest,
        urn: str,
        plan: _Plan,
        old: ResourceState | None,
        old_urn: str,
    ) -> resource_pb2.RegisterResourceResponse:
        """What the engine returns in a preview (providers without preview support)."""
        if plan.op == "same":
            assert old is not None
            id_, outputs = old.id, old.outputs
        elif plan.op == "update":
            assert old is not None
            id_, outputs = old.id, plan.checked
        else:  # create / replace: no ID yet, unknown outputs beyond the inputs
            id_, outputs = "", plan.checked
        self._record(
            Step(
                urn=urn,
                name=urn.split("::", 3)[-1],
                type=_urn_type(urn),
                op=plan.op,
                replaces=plan.replaces,
                diffs=plan.diffs,
                id=id_,
                delete_before_replace=plan.delete_before_replace,
                old_urn=old_urn,
            )
        )
        with self.lock:
            self.final[urn] = (request.type, id_, outputs, _dependencies(request))
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=id_, object=props.to_struct(outputs)
        )

    # -- analyzers ---------------------------------------------------------------------------------

    def _analyze(
        self,
        request: resource_pb2.RegisterResourceRequest,
        urn: str,
        plan: _Plan,
        old: ResourceState | None,
    ) -> None:
        if not self.h.analyzers:
            return
        inputs = {k: v for k, v in plan.checked.items() if k != props.PROVIDER_KEY}
        olds = {k: v for k, v in (old.outputs if old else {}).items() if k != props.PROVIDER_KEY}
        step = PlannedStep(
            urn=urn,
            name=request.name,
            type=request.type,
            op=plan.op,
            inputs=props.unwrap_secrets(inputs),
            old_outputs=props.unwrap_secrets(olds),
            secret_inputs=frozenset(props.secret_keys(inputs)),
            replaces=plan.replaces,
            diffs=plan.diffs,
            preview=self.preview,
            properties=inputs,
            dependencies=tuple(_dependencies(request)),
            options={
                "protect": bool(request.protect),
                "delete_before_replace": bool(request.deleteBeforeReplace),
                "ignore_changes": list(request.ignoreChanges),
                "replace_on_changes": list(request.replaceOnChanges),
                "retain_on_delete": bool(request.retainOnDelete),
            },
        )
        violations: list[Violation] = []
        for analyzer in self.h.analyzers:
            violations += [v if v.urn else replace(v, urn=urn) for v in analyzer.analyze(step)]
        self._judge(violations, stop=not self.preview)

    def _analyze_stack(self) -> None:
        if not self.h.analyzers:
            return
        with self.lock:
            resources = []
            for urn, (type_, id_, wire, deps) in self.final.items():
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
        violations: list[Violation] = []
        for analyzer in self.h.analyzers:
            violations += list(analyzer.analyze_stack(resources))
        self._judge(violations, stop=False)

    def _judge(self, violations: list[Violation], *, stop: bool) -> None:
        """Advisory violations become warnings; mandatory ones an error.

        During an update a mandatory violation stops the step (raised); during a preview the
        engine keeps going to show every violation, so it is only recorded.
        """
        mandatory = [v for v in violations if v.mandatory]
        with self.lock:
            self.result.warnings += [v for v in violations if not v.mandatory]
        if not mandatory:
            return
        error = PolicyViolationError(mandatory)
        if stop:
            raise error
        self._error(error)

    # -- deletes, refresh ------------------------------------------------------------------------

    def _delete_all(self, condemned: list[ResourceState], *, clear_outputs: bool) -> None:
        """Delete resources in reverse registration order, dependents before dependencies.

        A resource's delete starts once every condemned resource depending on it (or parented
        to it) is gone, so independent deletes overlap up to ``parallel`` at a time, as with
        the engine's ``ScheduleDeletes``; with ``parallel=1`` the order is exactly the reverse
        registration order. After a failure no further delete starts.
        """
        ordered = sorted(condemned, key=lambda r: r.order, reverse=True)
        done = [threading.Event() for _ in ordered]
        # Dependents register after what they depend on, so they come earlier in ``ordered``;
        # only looking backwards also rules out waiting cycles.
        waits = [
            [
                done[j]
                for j, other in enumerate(ordered[:i])
                if res.urn in other.dependencies or res.urn == other.parent
            ]
            for i, res in enumerate(ordered)
        ]

        def work(i: int) -> None:
            try:
                for event in waits[i]:
                    event.wait()
                if not self.result.errors:
                    self._guarded(self._delete_one, ordered[i])
            finally:
                done[i].set()

        if self.h.parallel == 1:
            for i in range(len(ordered)):
                work(i)
        else:
            with futures.ThreadPoolExecutor(max_workers=self.h.parallel) as pool:
                list(pool.map(work, range(len(ordered))))
        if clear_outputs and not self.result.errors and not self.preview:
            with self.lock:
                self.state.outputs = {}
                self._checkpoint()

    def _delete_dependents_first(self, provider: DynamicProviderHost, root: ResourceState) -> None:
        """Delete, dependents first, what a delete-before-replace of ``root`` would break.

        The engine's ``calculateDependentReplacements`` (step_generator.go): of the resources
        transitively depending on ``root`` (not yet registered in this run, so their recorded
        dependencies still hold), those a replacement would replace: the inputs whose property
        dependencies are in the replace set become unknown and the provider's ``Diff`` decides.
        They are deleted now, in reverse dependency order, and re-created when they register.
        """
        with self.lock:
            candidates = [r for r in self.state.ordered() if r.urn not in self.registered]
        dependents: set[str] = {root.urn}
        replace_set: set[str] = {root.urn}
        to_replace: list[tuple[ResourceState, tuple[str, ...]]] = []
        for res in candidates:  # registration order is dependency order
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
            diff = provider.diff(
                res.urn, res.id, old_outputs=res.outputs, old_inputs=res.inputs, news=inputs
            )
            if diff.changes == _DIFF_SOME and diff.replaces:
                replace_set.add(res.urn)
                to_replace.append((res, tuple(diff.replaces)))
        for res, keys in reversed(to_replace):
            if res.protect:
                raise HarnessError(
                    f"unable to replace resource {res.urn!r} as part of replacing {root.urn!r} "
                    "as it is currently marked for protection"
                )
            self._delete_one(res, record_step=False)
            with self.lock:
                self.recreating[res.urn] = keys

    def _guarded(self, fn: Callable[[ResourceState], None], res: ResourceState) -> None:
        try:
            fn(res)
        except HarnessError as exn:
            self._error(exn)

    def _delete_one(self, res: ResourceState, *, record_step: bool = True) -> None:
        """Delete one resource (unless retained) and drop it from the checkpoint."""
        if res.protect and not self.preview:
            raise HarnessError(
                f"unable to delete protected resource {res.urn}; remove the protect option first"
            )
        if not self.preview and not res.retain_on_delete:
            self.provider().delete(res.urn, res.id, outputs=res.outputs, inputs=res.inputs)
        if not self.preview:
            with self.lock:
                pending = [p for p in self.state.pending_deletes if p is not res]
                if len(pending) != len(self.state.pending_deletes):
                    self.state.pending_deletes = pending
                else:
                    self.state.resources.pop(res.urn, None)
                self._checkpoint()
        if record_step and all(r is not res for r in self.replaced):
            self._record(Step(urn=res.urn, name=res.name, type=res.type, op="delete", id=res.id))

    def _refresh(self) -> None:
        """``Read`` each resource (concurrently); drop the gone, record what is there."""
        resources = self.state.ordered()

        def read(res: ResourceState) -> None:
            id_, outs, ins = self.provider().read(
                res.urn, res.id, outputs=res.outputs, inputs=res.inputs
            )
            with self.lock:
                if not id_:
                    del self.state.resources[res.urn]
                    self._checkpoint()
                    self._record(
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
                self.state.resources[res.urn] = new
                self._checkpoint()
                self._record(
                    Step(
                        urn=res.urn,
                        name=res.name,
                        type=res.type,
                        op="read",
                        diffs=tuple(props.changed_keys(res.outputs, new.outputs)),
                        id=id_,
                    )
                )

        with futures.ThreadPoolExecutor(max_workers=self.h.parallel) as pool:
            list(pool.map(lambda r: self._guarded(read, r), resources))

    # -- bookkeeping -----------------------------------------------------------------------------

    def _commit(self, new: ResourceState, *, old_urn: str = "") -> None:
        """Record ``new``; if its old state was found under the alias ``old_urn``, that entry
        is gone and every reference to it names the new URN (the snapshot's
        ``NormalizeURNReferences``, pkg/resource/deploy/snapshot.go)."""
        with self.lock:
            if old_urn:
                self.state.resources.pop(old_urn, None)
                for res in [*self.state.resources.values(), *self.state.pending_deletes]:
                    res.dependencies = [new.urn if d == old_urn else d for d in res.dependencies]
                    if res.parent == old_urn:
                        res.parent = new.urn
            self.state.resources[new.urn] = new
            self._checkpoint()

    def _checkpoint(self) -> None:
        if not self.preview:
            with self.lock:
                save_snapshot(self.h.state_file, self.state)

    def _record(self, step: Step) -> None:
        with self.lock:
            self.result.steps.append(step)

    def _error(self, error: HarnessError, *, abort: bool = False) -> None:
        with self.lock:
            self.result.errors.append(error)
            if abort:
                self.aborted = True


def _dependencies(request: resource_pb2.RegisterResourceRequest) -> list[str]:
    deps = set(request.dependencies)
    for entry in request.propertyDependencies.values():
        deps.update(entry.urns)
    return sorted(deps)


def _ignore_changes(
    news: props.PropertyMap, old_inputs: props.PropertyMap, keys: list[str], urn: str
) -> props.PropertyMap:
    """Apply ``ignore_changes`` (top-level property names only) the engine's way."""
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


@dataclass(frozen=True)
class _Alias:
    """One alias, as the engine's ``resource.Alias`` (sdk/go/common/resource/alias.go): either
    a whole old ``urn`` or a spec whose empty fields default to the resource's own."""

    urn: str = ""
    name: str = ""
    type: str = ""
    project: str = ""
    stack: str = ""
    parent: str = ""
    no_parent: bool = False


def _request_aliases(request: resource_pb2.RegisterResourceRequest) -> list[_Alias]:
    """A registration's aliases, read as the engine's ResourceMonitor does (source_eval.go's
    RegisterResource): ``aliasURNs`` (SDKs talking to monitors without the ``aliasSpecs``
    feature send full URNs they computed, parent aliases included), then ``aliases``, each a
    URN or a spec (what the Python SDK sends here: the harness's monitor, like the CLI's,
    reports RESOURCE_MONITOR_FEATURE_ALIAS_SPECS, so the engine computes the URNs)."""
    result = [_Alias(urn=alias_urn) for alias_urn in request.aliasURNs]
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "spec":
            spec = alias.spec
            which = spec.WhichOneof("parent")
            result.append(
                _Alias(
                    name=spec.name,
                    type=spec.type,
                    project=spec.project,
                    stack=spec.stack,
                    parent=spec.parentUrn if which == "parentUrn" else "",
                    no_parent=which == "noParent" and spec.noParent,
                )
            )
        elif alias.urn:
            result.append(_Alias(urn=alias.urn))
    return result


def _create_urn(name: str, typ: str, parent: str, project: str, stack: str) -> str:
    """``resource.CreateURN``: under a parent, the parent URN's prefix (its stack, project and
    qualified type) and ``$``; else ``urn:pulumi:<stack>::<project>::``."""
    prefix = parent[: parent.rindex("::")] + "$" if parent else f"urn:pulumi:{stack}::{project}::"
    return f"{prefix}{typ}::{name}"


def _new_urn(stack: str, project: str, parent_type: str, base_type: str, name: str) -> str:
    """``urn.New``: the parent's qualified type prefixes the type unless it is the stack's."""
    typ = base_type
    if parent_type and parent_type != STACK_TYPE:
        typ = f"{parent_type}${base_type}"
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def _urn_name(urn: str) -> str:
    """``URN.Name``: everything after the third ``::`` (a name may itself contain ``::``)."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else ""


def _urn_qualified_type(urn: str) -> str:
    """``URN.QualifiedType``: the type with its parents' types, ``$``-separated."""
    parts = urn.split("::", 3)
    return parts[2] if len(parts) == 4 else ""


def _duplicate_alias(alias_urn: str, urn: str, other: str) -> str:
    """The engine's diagnostic 2008 (``GetDuplicateResourceAliasError``)."""
    return (
        f"Duplicate resource alias '{alias_urn}' applied to resource with URN '{urn}' "
        f"conflicting with resource with URN '{other}'"
    )


def _urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def _project_name(program_dir: Path | None) -> str | None:
    """The ``name:`` of ``Pulumi.yaml`` in the project directory, if any."""
    if program_dir is None:
        return None
    for candidate in ("Pulumi.yaml", "Pulumi.yml"):
        file = program_dir / candidate
        if file.is_file():
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.startswith("name:"):
                    return line.split(":", 1)[1].strip().strip("'\"") or None
    return None


def _collect(stream: IO[bytes], chunks: list[str], echo: bool) -> None:
    for raw in iter(stream.readline, b""):
        text = raw.decode(errors="replace")
        chunks.append(text)
        if echo:
            sys.stderr.write(text)
            sys.stderr.flush()


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
