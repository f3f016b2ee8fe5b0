"""An engine harness: run Pulumi programs against real dynamic providers, without the CLI.

The Pulumi CLI (and its Go engine) is not available everywhere this package is developed and
tested, but dynamic providers must still be exercised the way ``pulumi up`` drives them. This
package reproduces the engine's side of that contract: it runs the program (in a child process,
under ``pulumi.runtime.set_mocks``), forwards every dynamic-resource registration to a real
``python -m pulumi.dynamic`` provider process over gRPC, applies the engine's
Check/Diff/Create/Update/replace/Delete rules, and keeps a JSON checkpoint.

Typical use::

    from pulumi_vigo_vm.testing import EngineHarness

    harness = EngineHarness("examples/basic", state_file=tmp_path / "state.json",
                            config={"vigo:uri": "qemu:///system"})
    result = harness.up()
    assert result.ops() == {"web": "create"}
    assert harness.up().counts() == {"same": 1}
    harness.destroy()

Or from a shell: ``python -m pulumi_vigo_vm.testing up examples/basic --state state.json``.
"""

from .engine import DEFAULT_PARALLEL, EngineHarness, Program
from .errors import (
    CheckFailedError,
    CheckFailure,
    DeploymentAborted,
    HarnessError,
    PolicyViolationError,
    ProgramError,
    ProviderError,
    UnsupportedResourceError,
    Violation,
)
from .hooks import Analyzer, PlannedStep, StackResource
from .policy_analyzer import PolicyPackAnalyzer, PolicyPackError, load_policy_config
from .props import UNKNOWN
from .results import Op, RunResult, Step, Verb
from .state import ResourceState, Snapshot, load_snapshot, save_snapshot

__all__ = [
    "DEFAULT_PARALLEL",
    "UNKNOWN",
    "Analyzer",
    "CheckFailedError",
    "CheckFailure",
    "DeploymentAborted",
    "EngineHarness",
    "HarnessError",
    "Op",
    "PlannedStep",
    "PolicyPackAnalyzer",
    "PolicyPackError",
    "PolicyViolationError",
    "Program",
    "ProgramError",
    "ProviderError",
    "ResourceState",
    "RunResult",
    "Snapshot",
    "StackResource",
    "Step",
    "UnsupportedResourceError",
    "Verb",
    "Violation",
    "load_policy_config",
    "load_snapshot",
    "save_snapshot",
]
