"""A harness :class:`~.hooks.Analyzer` that consults a real policy pack, like ``--policy-pack``.

``pulumi up --policy-pack policy`` starts the pack as a plugin and asks it about every resource
before its step and about the whole stack at the end. :class:`PolicyPackAnalyzer` plugs the same
thing into :class:`~pulumi_vigo_vm.testing.engine.EngineHarness`: it starts the pack through
:class:`~pulumi_vigo_vm.testing.policy.PolicyRunner` (exactly as the CLI starts it) and turns
the pack's diagnostics into :class:`~pulumi_vigo_vm.testing.errors.Violation`\\ s, mandatory or
advisory according to each diagnostic's enforcement level::

    with PolicyPackAnalyzer("policy", {"vigo-vm-max-vcpu": {"maxVcpu": 8}}) as pack:
        harness = EngineHarness(program, state_file=state, analyzers=[pack])
        harness.up(preview_first=True)

The pack process is started once (on ``__enter__``/:meth:`start`, or lazily on the first
question) and lives until :meth:`close`, so a preview and the update that follows it share one
process, and every step of a run asks the same process. Use it as a context manager (or call
:meth:`close`) to stop it; a forgotten analyzer's process is stopped when the analyzer is
garbage-collected or the interpreter exits.

Differences from the CLI: the pack is started with ``PULUMI_DRY_RUN=true`` for the whole run
(the CLI restarts plugins between the preview and the update); only
``pulumi.runtime.is_dry_run()`` inside the pack could tell, and the vigo-vm pack never asks.
The stack config the pack sees (``PULUMI_CONFIG``, e.g. ``vigo:uri``) must be passed as
``stack_config``: the analyzer does not see the harness's config.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .diagnostics import AnalyzedResource, Diagnostic, to_violation
from .errors import HarnessError, Violation
from .hooks import PlannedStep, StackResource
from .plugin import StartsAndCloses
from .policy import PolicyRunner

__all__ = ["PolicyPackAnalyzer", "PolicyPackError", "load_policy_config", "to_violation"]


class PolicyPackError(HarnessError):
    """The policy pack could not be started, configured or asked (not a policy violation)."""


def load_policy_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``--policy-pack-config`` JSON file.

    The format is the CLI's: ``{"all": "advisory", "<policy>": "mandatory"|"advisory"|
    "disabled", "<policy>": {"enforcementLevel": ..., "<property>": value}}``.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exn:
        raise PolicyPackError(f"cannot read policy config {path}: {exn}") from exn
    if not isinstance(data, dict):
        raise PolicyPackError(f"policy config {path} must hold a JSON object")
    return data


class PolicyPackAnalyzer(StartsAndCloses):
    """An :class:`~pulumi_vigo_vm.testing.hooks.Analyzer` backed by a real policy pack.

    :param pack_dir: the pack directory (holding ``PulumiPolicy.yaml``), as for
        ``--policy-pack``.
    :param config: the pack config, as in a ``--policy-pack-config`` file (see
        :func:`load_policy_config`); every policy is configured, schema defaults filled in.
    :param stack_config: the stack's config as the pack sees it (``{"vigo:uri": ...}``).
    :param project: project name handed to the pack (``PULUMI_PROJECT``).
    :param stack: stack name handed to the pack (``PULUMI_STACK``).
    :param python: interpreter to run the pack with (default: this one).
    :param timeout: seconds allowed for the pack to start and for each call.
    """

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        config: Mapping[str, Any] | None = None,
        *,
        stack_config: Mapping[str, str] | None = None,
        project: str = "project",
        stack: str = "dev",
        python: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.pack_dir = Path(pack_dir)
        self.config = dict(config or {})
        self.stack_config = dict(stack_config or {})
        self.project = project
        self.stack = stack
        self.python = python
        self.timeout = timeout
        self.starts = 0
        """How many times the pack process was started (once per ``with`` block)."""
        self.diagnostics: list[Diagnostic] = []
        """Every diagnostic the pack returned, in the order received."""
        self._runner: PolicyRunner | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> PolicyRunner:
        """Start and configure the pack unless it is running; return its runner."""
        with self._lock:
            if self._runner is not None:
                return self._runner
            runner = PolicyRunner(
                self.pack_dir,
                self.config,
                stack_config=self.stack_config,
                project=self.project,
                stack=self.stack,
                python=self.python,
                timeout=self.timeout,
            )
            try:
                runner.start()
            except Exception as exn:
                raise PolicyPackError(
                    f"policy pack {self.pack_dir} could not be started: {exn}"
                ) from exn
            self.starts += 1
            self._runner = runner
            self._finalizer = weakref.finalize(self, runner.close)
            return runner

    def close(self) -> None:
        """Stop the pack process (a later question starts a new one)."""
        with self._lock:
            self._runner = None
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer()

    @property
    def running(self) -> bool:
        """Whether the pack process is up."""
        return self._runner is not None

    @property
    def runner(self) -> PolicyRunner | None:
        """The running pack's runner, if any (for its logs, stderr or raw stub)."""
        return self._runner

    # ---------------------------------------------------------------- Analyzer

    def analyze(self, step: PlannedStep) -> list[Violation]:
        """Ask the pack's resource policies about one planned step."""
        return self._ask("Analyze", step.urn, lambda r: r.analyze(step))

    def analyze_stack(self, resources: Sequence[StackResource]) -> list[Violation]:
        """Ask the pack's stack policies about the resources at the end of the run."""
        analyzed: list[AnalyzedResource] = list(resources)
        return self._ask("AnalyzeStack", "the stack", lambda r: r.analyze_stack(analyzed))

    def _ask(
        self, call: str, subject: str, ask: Callable[[PolicyRunner], list[Diagnostic]]
    ) -> list[Violation]:
        runner = self.start()
        try:
            diagnostics = ask(runner)
        except Exception as exn:
            detail = runner.stderr.strip()
            raise PolicyPackError(
                f"policy pack {self.pack_dir}: {call} of {subject} failed: {exn}"
                + (f"\n{detail}" if detail else "")
            ) from exn
        with self._lock:
            self.diagnostics += diagnostics
        return [to_violation(d) for d in diagnostics]
