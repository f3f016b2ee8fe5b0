"""The vigo-vm policy pack judging real Pulumi programs in the engine harness.

``EngineHarness(..., analyzers=[PolicyPackAnalyzer("policy")])`` is ``pulumi up --policy-pack
policy``: the pack runs as the CLI starts it and is asked about every resource after ``Check``
and before its step, and about the stack at the end of the program.

Refusals use the real :class:`~pulumi_vigo_vm.VigoVm`: the policy decision comes before any
provider call that could touch libvirt (``Check`` never does), so a refused ``up`` must end
before ``Create`` is ever called; no libvirt is needed.

Runs that must *succeed* cannot use the real provider without libvirt, so they declare
:class:`StandInVigoVm`, a stand-in of the SAME type token (``pulumi-python:dynamic/vigo:VigoVm``)
backed by a file provider defined here. The pack judges a resource by its type token and
inputs, so it treats the stand-in exactly like a VigoVm; the stand-in exists only because the
policy decision happens before the provider, and libvirt is not what is under test. Its
provider logs every create, which proves when ``Create`` was (not) called.

The programs and the stand-in provider live in this module; the program and provider child
processes import it through ``PYTHONPATH``, as the harness tests do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dyn
import pytest
from policy_support import PACK_DIR

from pulumi_vigo_vm.policies import (
    MAX_MEMORY_POLICY,
    MAX_VCPU_POLICY,
    UNIQUE_DOMAIN_POLICY,
    VIGO_VM_TYPE,
)
from pulumi_vigo_vm.testing import (
    EngineHarness,
    PolicyPackAnalyzer,
    PolicyPackError,
    PolicyViolationError,
    RunResult,
    load_snapshot,
)

HERE = Path(__file__).resolve().parent
STACK, PROJECT = "dev", "vms"
URI = "qemu:///system"


# --------------------------------------------------------------------------- stand-in provider


class StandInVmProvider(dyn.ResourceProvider):
    """Writes ``dir/<vm_name>.json`` instead of building a VM; logs each create to ``log``."""

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        path = os.path.join(props["dir"], f"{props['vm_name']}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({k: v for k, v in props.items() if k != "__provider"}, handle)
        with open(props["log"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"op": "create", "vm_name": props["vm_name"]}) + "\n")
        return dyn.CreateResult(path, dict(props))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if os.path.exists(id_):
            os.remove(id_)


class StandInVigoVm(dyn.Resource, module="vigo", name="VigoVm"):
    """Same type token as VigoVm, no libvirt: see the module docstring for why."""

    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(StandInVmProvider(), name, props)


# --------------------------------------------------------------------------- programs


def vms_program() -> None:
    """Declare the VMs in ``test:vms``; ``test:standin`` picks :class:`StandInVigoVm`."""
    from pulumi_vigo_vm import VigoVm

    config = pulumi.Config("test")
    for item in json.loads(config.require("vms")):
        props = dict(item)
        name = props.pop("name")
        if config.get_bool("standin"):
            StandInVigoVm(
                name, {**props, "dir": config.require("dir"), "log": config.require("log")}
            )
        else:
            VigoVm(name, disk_path="/var/lib/vigo/base.qcow2", **props)


MAIN = "from test_policy_harness import vms_program\n\nvms_program()\n"


@dataclass
class World:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def log_file(self) -> Path:
        return self.root / "creates.jsonl"

    def config(self, vms: list[dict[str, Any]], *, standin: bool) -> dict[str, str]:
        return {
            "test:vms": json.dumps(vms),
            "test:standin": "true" if standin else "false",
            "test:dir": str(self.root),
            "test:log": str(self.log_file),
            "vigo:uri": URI,
        }

    def harness(
        self, vms: list[dict[str, Any]], pack: PolicyPackAnalyzer, *, standin: bool
    ) -> EngineHarness:
        return EngineHarness(
            vms_program,
            state_file=self.state_file,
            config=self.config(vms, standin=standin),
            project=PROJECT,
            stack=STACK,
            analyzers=[pack],
        )

    def creates(self) -> list[str]:
        """vm_name of every Create the stand-in provider received."""
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["vm_name"] for line in lines]

    def resources(self) -> list[str]:
        """URNs of the program's resources in the checkpoint (nothing if it was never
        written; the stack's VigoStateId, made before any VM is analyzed, left out)."""
        return [r.urn for r in load_snapshot(self.state_file).program_resources()]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return World(tmp_path)


def pack(config: dict[str, Any] | None = None) -> PolicyPackAnalyzer:
    return PolicyPackAnalyzer(
        PACK_DIR, config, stack_config={"vigo:uri": URI}, project=PROJECT, stack=STACK
    )


def urn(name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{VIGO_VM_TYPE}::{name}"


def vm(name: str, **props: Any) -> dict[str, Any]:
    return {"name": name, "vm_name": name, "memory_mib": 2048, "vcpu": 2, **props}


def refused(error: PolicyViolationError) -> RunResult:
    result = error.result
    assert result is not None
    return result


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("standin", [False, True], ids=["VigoVm", "stand-in"])
def test_oversized_vm_is_stopped_by_the_preview_of_up(world: World, standin: bool) -> None:
    vms = [vm("small"), vm("big", memory_mib=409600)]
    with pack() as analyzer:
        harness = world.harness(vms, analyzer, standin=standin)
        with pytest.raises(PolicyViolationError) as caught:
            harness.up(preview_first=True)

    message = str(caught.value)
    assert "VM 'big': memory_mib 409600 MiB exceeds the limit of 65536 MiB" in message
    assert MAX_MEMORY_POLICY in message and urn("big") in message
    [violation] = caught.value.violations
    assert (violation.policy, violation.urn, violation.mandatory) == (
        MAX_MEMORY_POLICY,
        urn("big"),
        True,
    )
    # The SDK prefixes the policy's description, as the CLI shows it.
    assert violation.message.endswith(
        "\nVM 'big': memory_mib 409600 MiB exceeds the limit of 65536 MiB"
    )
    # The preview failed, so the update never ran: nothing created, no checkpoint.
    assert refused(caught.value).verb == "preview"
    assert world.creates() == []
    assert world.resources() == []


@pytest.mark.parametrize("standin", [False, True], ids=["VigoVm", "stand-in"])
def test_oversized_vm_is_stopped_before_create_without_preview(world: World, standin: bool) -> None:
    with pack() as analyzer:
        harness = world.harness([vm("wide", vcpu=64)], analyzer, standin=standin)
        with pytest.raises(PolicyViolationError) as caught:
            harness.up()

    assert "VM 'wide': vcpu 64 exceeds the limit of 32" in str(caught.value)
    assert [v.policy for v in caught.value.violations] == [MAX_VCPU_POLICY]
    result = refused(caught.value)
    assert result.verb == "up"
    assert [s for s in result.program_steps() if s.op == "create"] == []
    assert world.creates() == []
    assert world.resources() == []


def test_preview_reports_every_violation(world: World) -> None:
    vms = [vm("big", memory_mib=409600), vm("wide", vcpu=64)]
    with pack() as analyzer:
        harness = world.harness(vms, analyzer, standin=False)
        harness.raise_on_error = False
        result = harness.preview()

    assert not result.ok
    violations = {v.urn: v for e in result.errors for v in getattr(e, "violations", [])}
    assert set(violations) == {urn("big"), urn("wide")}
    assert "exceeds the limit of 65536 MiB" in violations[urn("big")].message
    assert "exceeds the limit of 32" in violations[urn("wide")].message


def test_duplicate_domain_is_refused_by_the_stack_policy(world: World) -> None:
    # "web-copy" sets no uri: Check fills in the stack's vigo:uri, the same domain.
    vms = [vm("web", vm_name="app", uri=URI), vm("web-copy", vm_name="app")]
    with pack() as analyzer:
        harness = world.harness(vms, analyzer, standin=False)
        with pytest.raises(PolicyViolationError) as caught:
            harness.up(preview_first=True)

    violations = caught.value.violations
    assert {v.policy for v in violations} == {UNIQUE_DOMAIN_POLICY}
    assert {v.urn for v in violations} == {urn("web"), urn("web-copy")}
    assert all(v.mandatory for v in violations)
    assert f"VM 'app' on {URI} is also managed by {urn('web-copy')}" in str(caught.value)
    assert refused(caught.value).verb == "preview"
    assert world.resources() == []


# --------------------------------------------------------------------------- passing runs


def test_compliant_stack_passes_and_the_pack_runs_once(world: World) -> None:
    vms = [vm("web"), vm("db", memory_mib=65536, vcpu=32, disk_size_gib=2048)]
    with pack() as analyzer:
        harness = world.harness(vms, analyzer, standin=True)
        result = harness.up(preview_first=True)
        assert analyzer.starts == 1  # one process for the preview and the update
        runner = analyzer.runner
        assert runner is not None and runner.policy_names
        again = harness.up()
    assert not analyzer.running
    with pytest.raises(RuntimeError, match="not started"):
        runner.stub  # noqa: B018 - the runner was closed with the analyzer

    assert result.ok and result.warnings == []
    assert result.ops() == {"web": "create", "db": "create"}
    assert sorted(world.creates()) == ["db", "web"]
    assert again.ops() == {"web": "same", "db": "same"}
    assert analyzer.starts == 1
    assert analyzer.diagnostics == []


def test_advisory_level_only_warns_and_up_proceeds(world: World) -> None:
    vms = [vm("big", memory_mib=409600)]
    with pack({MAX_MEMORY_POLICY: "advisory"}) as analyzer:
        result = world.harness(vms, analyzer, standin=True).up(preview_first=True)

    assert result.ok
    assert result.ops() == {"big": "create"}
    assert world.creates() == ["big"]
    [warning] = result.warnings
    assert (warning.policy, warning.urn, warning.mandatory) == (
        MAX_MEMORY_POLICY,
        urn("big"),
        False,
    )
    assert "VM 'big': memory_mib 409600 MiB exceeds the limit of 65536 MiB" in warning.message
    assert "warning: [advisory] vigo-vm-max-memory" in result.summary()


def test_limits_change_per_stack_through_config_alone(world: World) -> None:
    vms = [vm("web", vcpu=16)]
    limit = "VM 'web': vcpu 16 exceeds the limit of 8"
    with (
        pack({MAX_VCPU_POLICY: {"maxVcpu": 8}}) as strict,
        pytest.raises(PolicyViolationError, match=limit),
    ):
        world.harness(vms, strict, standin=True).up(preview_first=True)
    assert world.creates() == []

    with pack() as default:
        assert world.harness(vms, default, standin=True).up(preview_first=True).ok
    assert world.creates() == ["web"]


# --------------------------------------------------------------------------- lifecycle


def test_lazily_started_pack_is_closed_by_close(world: World) -> None:
    analyzer = pack()
    harness = world.harness([vm("web")], analyzer, standin=True)
    assert not analyzer.running
    assert harness.preview().ok
    assert analyzer.running and analyzer.starts == 1
    analyzer.close()
    assert not analyzer.running


def test_bad_pack_config_is_a_harness_error(world: World) -> None:
    with pytest.raises(PolicyPackError, match="no-such-policy"):
        pack({"no-such-policy": "advisory"}).start()


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def project(world: World) -> Iterator[Path]:
    directory = world.root / "project"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n", "utf-8")
    (directory / "__main__.py").write_text(MAIN, encoding="utf-8")
    yield directory


def _cli(
    world: World, verb: str, project: Path, vms: list[dict[str, Any]], *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pulumi_vigo_vm.testing", verb, str(project)]
    args += ["--state", str(world.state_file), "--quiet", "--policy-pack", str(PACK_DIR)]
    for key, value in world.config(vms, standin=True).items():
        args += ["--config", f"{key}={value}"]
    args += extra
    return subprocess.run(args, capture_output=True, text=True, env=os.environ.copy(), check=False)


def test_cli_policy_config_changes_the_limits(world: World, project: Path) -> None:
    vms = [vm("web", vcpu=16)]
    strict = world.root / "strict.json"
    strict.write_text(json.dumps({MAX_VCPU_POLICY: {"maxVcpu": 8}}), encoding="utf-8")
    lenient = world.root / "lenient.json"
    lenient.write_text(json.dumps({"all": "advisory", MAX_VCPU_POLICY: {"maxVcpu": 8}}), "utf-8")

    preview = _cli(world, "preview", project, vms, "--policy-config", str(strict))
    assert preview.returncode == 1, preview.stderr
    assert "VM 'web': vcpu 16 exceeds the limit of 8" in preview.stdout

    up = _cli(world, "up", project, vms, "--policy-config", str(strict))
    assert up.returncode == 1, up.stderr
    assert "[mandatory] vigo-vm-max-vcpu" in up.stdout
    assert world.creates() == []

    warned = _cli(world, "up", project, vms, "--policy-config", str(lenient))
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "warning: [advisory] vigo-vm-max-vcpu" in warned.stdout
    assert world.creates() == ["web"]

    same = _cli(world, "up", project, vms)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "warning" not in same.stdout


def test_cli_rejects_a_broken_policy_config(world: World, project: Path) -> None:
    bad = world.root / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    run = _cli(world, "preview", project, [vm("web")], "--policy-config", str(bad))
    assert run.returncode == 2
    assert "must hold a JSON object" in run.stderr

    missing = _cli(world, "preview", project, [vm("web")], "--policy-config", "nope.json")
    assert missing.returncode == 2 and "cannot read policy config" in missing.stderr
