"""An in-process stand-in for the Pulumi engine, driving real dynamic providers.

Why this exists: the Pulumi CLI cannot be installed here, yet dynamic providers must be tested
the way ``pulumi up`` drives them, not by calling their methods directly. :class:`EngineHarness`
does what the engine does, step for step:

* the program runs in a child interpreter (:mod:`.languagehost`, started by :mod:`.program`)
  under ``set_mocks``; each resource registration comes back over gRPC to a ResourceMonitor
  served here (:mod:`.monitor`), which finds its old state through its aliases (:mod:`.aliases`);
* each registration is turned into provider RPCs against one real ``python -m pulumi.dynamic``
  process (:mod:`.providerhost`): ``Check``, then ``Diff`` against the checkpoint
  (:mod:`.stepgen`), then ``Create``/``Update``/replace/nothing (:mod:`.executor`), following
  the engine's rules (:mod:`.steps`), with policy analyzers consulted in between
  (:mod:`.analysis`);
* the checkpoint (:mod:`.state`) is written after every successful step, unless the step
  changed nothing (the engine's elision, :mod:`.elision`), and once more at the end of a run
  whose last write was elided; resources the program no longer registers are deleted once it
  has finished, dependents first (:mod:`.deletes`).
  :mod:`.deployment` holds one verb's run and sequences these jobs.

Registrations arrive concurrently (the SDK issues them from a thread pool as soon as their inputs
resolve, so independent resources are in flight together and dependent ones wait for the outputs
they need); at most ``parallel`` steps run at once, like ``pulumi up --parallel``. Note that the
dynamic provider process serves at most four RPCs at a time (its gRPC thread pool), exactly as it
does under the real engine.

This module holds :class:`EngineHarness` and re-exports what it held before it was split.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ..dynamic import lastwords
from . import props as props
from ._protocol import EXIT_ABORTED as EXIT_ABORTED
from ._protocol import STACK_TYPE as STACK_TYPE
from .aliases import Alias, AliasError, duplicate_alias, request_aliases
from .deployment import Deployment
from .errors import CheckFailedError as CheckFailedError
from .errors import DeploymentAborted as DeploymentAborted
from .errors import HarnessError as HarnessError
from .errors import PolicyViolationError as PolicyViolationError
from .errors import ProgramError
from .errors import UnsupportedResourceError as UnsupportedResourceError
from .errors import Violation as Violation
from .executor import DYNAMIC_TYPE_PREFIX as DYNAMIC_TYPE_PREFIX
from .hooks import Analyzer
from .hooks import PlannedStep as PlannedStep
from .hooks import StackResource as StackResource
from .program import collect_output, tail
from .providerhost import DynamicProviderHost as DynamicProviderHost
from .results import Op as Op
from .results import RunResult
from .results import Step as Step
from .results import Verb as Verb
from .state import ResourceState as ResourceState
from .state import Snapshot, load_snapshot
from .state import save_snapshot as save_snapshot
from .steps import DIFF_NONE, DIFF_SOME, DIFF_UNKNOWN, Plan, apply_ignore_changes, dependencies
from .urns import create_urn, new_urn, urn_name, urn_qualified_type, urn_type

__all__ = ["DEFAULT_PARALLEL", "AliasError", "EngineHarness", "Program"]

DEFAULT_PARALLEL = 10

Program = str | os.PathLike[str] | Callable[[], object]
"""A project directory holding ``__main__.py``, or a zero-argument callable (for tests).

A callable is shipped to the child interpreter with ``dill``: module-level functions of
importable modules travel by reference, closures by value.
"""


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
        otherwise inherit the caller's environment (``PYTHONPATH`` included). Unless it (or
        the caller's environment) sets ``VIGO_PROVIDER_LOG_DIR``, a provider's own log (see
        :mod:`pulumi_vigo_vm.dynamic.lastwords`) goes to ``provider-logs/`` beside the state file.
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
        return self._finish(Deployment(self, "preview").run())

    def up(self, *, preview_first: bool = False) -> RunResult:
        """Deploy: run the program and create/update/replace/delete to match it.

        With ``preview_first`` a preview runs first and the update only proceeds when it
        succeeded (as ``pulumi up`` does by default); its errors are returned/raised instead.
        """
        if preview_first:
            previewed = self.preview() if self.raise_on_error else self._quiet_preview()
            if not previewed.ok:
                return previewed
        return self._finish(Deployment(self, "up").run())

    def refresh(self) -> RunResult:
        """``Read`` every resource and record what is really there (gone ones are dropped)."""
        return self._finish(Deployment(self, "refresh").run())

    def destroy(self) -> RunResult:
        """Delete every resource, dependents first, and empty the state."""
        return self._finish(Deployment(self, "destroy").run())

    def snapshot(self) -> Snapshot:
        """The current checkpoint."""
        return load_snapshot(self.state_file)

    # -- internals ---------------------------------------------------------------------------------

    def _quiet_preview(self) -> RunResult:
        return Deployment(self, "preview").run()

    def _finish(self, result: RunResult) -> RunResult:
        for error in result.errors:
            error.result = result
        if result.errors and self.raise_on_error:
            raise result.errors[0]
        return result

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        # A provider that dies leaves its reason in its own log (pulumi_vigo_vm.dynamic.lastwords):
        # beside the state file, unless the caller chose, not in the user's home.
        env.setdefault(lastwords.ENV_DIR, str(self.state_file.resolve().parent / "provider-logs"))
        env["PULUMI_PROJECT"] = self.project
        env["PULUMI_STACK"] = self.stack
        env["PULUMI_CONFIG"] = json.dumps(self.config)
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(self.secret_config_keys)
        return env

    def _cwd(self) -> str:
        return str(self.program_dir) if self.program_dir is not None else os.getcwd()


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


# The helpers engine.py held before it was split, under their old names, for callers that
# imported them from here (the step rules now live in .steps, aliases in .aliases, URN
# helpers in .urns, the program runner in .program, the run itself in .deployment).
_Deployment = Deployment
_Plan = Plan
_Alias = Alias
_DIFF_NONE = DIFF_NONE
_DIFF_SOME = DIFF_SOME
_DIFF_UNKNOWN = DIFF_UNKNOWN
_dependencies = dependencies
_ignore_changes = apply_ignore_changes
_request_aliases = request_aliases
_create_urn = create_urn
_new_urn = new_urn
_urn_name = urn_name
_urn_qualified_type = urn_qualified_type
_urn_type = urn_type
_duplicate_alias = duplicate_alias
_collect = collect_output
_tail = tail
