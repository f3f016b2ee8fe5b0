"""The engine harness drives a real dynamic provider the way ``pulumi`` does.

Every test runs the real ``python -m pulumi.dynamic`` process over gRPC; the provider
(``harness_fileprovider``) manages files and logs each real effect, which is what the tests
assert on, next to the harness's reported steps and its state file.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from harness_programs import failing_program
from harness_world import World

from pulumi_vigo_vm.testing import (
    UNKNOWN,
    CheckFailedError,
    EngineHarness,
    PlannedStep,
    PolicyViolationError,
    ProgramError,
    ProviderError,
    StackResource,
    Violation,
)

A = {"name": "a", "filename": "a.txt", "content": "alpha"}
B = {"name": "b", "filename": "b.txt", "content": "beta"}
C = {"name": "c", "filename": "c.txt", "content": "gamma"}
TYPE = "pulumi-python:dynamic/harness:File"


def urn(name: str) -> str:
    return f"urn:pulumi:dev::project::{TYPE}::{name}"


def test_create_then_same_then_update(world: World) -> None:
    result = world.harness([A, B]).up()
    assert result.ops() == {"a": "create", "b": "create"}
    assert world.files() == {"a.txt": "alpha", "b.txt": "beta"}
    assert result.step("a").id == str(world.dir / "a.txt")

    again = world.harness([A, B]).up()
    assert again.ops() == {"a": "same", "b": "same"}
    assert len(world.effects()) == 2  # no provider call changed anything

    changed = world.harness([{**A, "content": "ALPHA"}, B]).up()
    assert changed.ops() == {"a": "update", "b": "same"}
    assert changed.step("a").diffs == ("content",)
    assert changed.step("a").replaces == ()
    assert world.files()["a.txt"] == "ALPHA"
    assert world.ops()[-1] == ("update", "a.txt")
    state = world.state()["resources"][urn("a")]
    assert state["outputs"]["content"] == "ALPHA"
    assert state["inputs"]["content"] == "ALPHA"


def test_replace_creates_before_deleting_by_default(world: World) -> None:
    world.harness([A, B]).up()
    result = world.harness([{**A, "filename": "a2.txt"}, B]).up()
    step = result.step("a")
    assert (step.op, step.replaces, step.delete_before_replace) == ("replace", ("filename",), False)
    assert world.ops()[-2:] == [("create", "a2.txt"), ("delete", "a.txt")]
    assert world.files() == {"a2.txt": "alpha", "b.txt": "beta"}
    state = world.state()
    assert state["resources"][urn("a")]["id"] == str(world.dir / "a2.txt")
    assert state["pending_deletes"] == []


def test_replace_deletes_first_when_the_provider_asks(world: World) -> None:
    world.harness([{**A, "dbr": True}]).up()
    result = world.harness([{**A, "dbr": True, "filename": "a2.txt"}]).up()
    assert result.step("a").delete_before_replace
    assert world.ops()[-2:] == [("delete", "a.txt"), ("create", "a2.txt")]
    assert world.files() == {"a2.txt": "alpha"}


def test_delete_before_replace_option_overrides_the_provider(world: World) -> None:
    world.harness([{**A, "delete_before_replace": True}]).up()
    world.harness([{**A, "delete_before_replace": True, "filename": "a2.txt"}]).up()
    assert world.ops()[-2:] == [("delete", "a.txt"), ("create", "a2.txt")]

    # An explicit False wins over the provider's deleteBeforeReplace=True, as in the engine.
    world.harness([{**A, "dbr": True, "delete_before_replace": False, "filename": "a3.txt"}]).up()
    assert world.ops()[-2:] == [("create", "a3.txt"), ("delete", "a2.txt")]


def test_replace_reruns_check_and_update_keeps_id(world: World) -> None:
    world.harness([A]).up()
    first = world.state()["resources"][urn("a")]
    world.harness([{**A, "content": "new"}]).up()
    assert world.state()["resources"][urn("a")]["id"] == first["id"]
    assert world.state()["resources"][urn("a")]["inputs"]["mode"] == "0644"


def test_removed_resources_are_deleted_dependents_first(world: World) -> None:
    b_after_a = {**B, "after": "a"}
    world.harness([A, b_after_a, C], parallel=1).up()
    assert world.files()["b.txt"] == f"beta:{world.dir / 'a.txt'}"
    assert world.state()["resources"][urn("b")]["dependencies"] == [urn("a")]

    # b waits for a's path, so it registers last; a and c race (both are independent).
    resources = world.state()["resources"].values()
    registered = [r["outputs"]["filename"] for r in sorted(resources, key=lambda r: r["order"])]
    assert registered[-1] == "b.txt"

    result = world.harness([], parallel=1).up()
    assert result.ops() == {"a": "delete", "b": "delete", "c": "delete"}
    assert [f for op, f in world.ops() if op == "delete"] == registered[::-1]
    assert world.files() == {}
    assert world.state()["resources"] == {}


def test_preview_never_changes_anything(world: World) -> None:
    fresh = world.harness([A, {**B, "after": "a"}]).preview()
    assert fresh.ops() == {"a": "create", "b": "create"}
    assert fresh.outputs["paths"] == {"a": UNKNOWN, "b": UNKNOWN}
    assert fresh.outputs["count"] == 2
    assert world.effects() == [] and world.files() == {}
    assert not world.state_file.exists()

    world.harness([A, B, C]).up()
    before = world.state_file.read_bytes()
    effects = world.effects()
    planned = world.harness(
        [
            {**A, "content": "changed"},
            {**B, "filename": "b2.txt"},
            {**C, "dbr": True},
            {"name": "d", "filename": "d.txt", "content": "delta"},
        ]
    ).preview()
    assert planned.ops() == {"a": "update", "b": "replace", "c": "same", "d": "create"}
    assert world.state_file.read_bytes() == before
    assert world.effects() == effects
    assert world.files() == {"a.txt": "alpha", "b.txt": "beta", "c.txt": "gamma"}

    removal = world.harness([A]).preview()
    assert removal.ops() == {"a": "same", "b": "delete", "c": "delete"}
    assert world.state_file.read_bytes() == before
    assert world.effects() == effects


def test_refresh_drops_vanished_resources_and_reads_drift(world: World) -> None:
    world.harness([A, B]).up()
    (world.dir / "a.txt").unlink()
    (world.dir / "b.txt").write_text("drifted", encoding="utf-8")

    result = world.harness([A, B]).refresh()
    assert result.ops() == {"a": "delete", "b": "read"}
    assert "content" in result.step("b").diffs
    state = world.state()["resources"]
    assert list(state) == [urn("b")]
    assert state[urn("b")]["outputs"]["content"] == "drifted"

    # The next up recreates the vanished one and puts the drifted one back.
    again = world.harness([A, B]).up()
    assert again.ops() == {"a": "create", "b": "update"}
    assert world.files() == {"a.txt": "alpha", "b.txt": "beta"}


def test_numbers_reach_the_provider_as_floats(world: World) -> None:
    world.harness([{**A, "size": 3}]).up()
    (create,) = world.effects()
    assert create["types"]["size"] == "float"
    outputs = world.state()["resources"][urn("a")]["outputs"]
    assert isinstance(outputs["size"], float) and isinstance(outputs["written"], float)


def test_secrets_reach_the_provider_unwrapped_and_stay_secret(world: World) -> None:
    item = {**A, "secret": True, "secret_value": "s3cr3t-value"}
    result = world.harness([item]).up()
    (create,) = world.effects()
    assert create["types"]["secret_value"] == "str"
    assert create["secret_value"] == "s3cr3t-value"

    resource = world.state()["resources"][urn("a")]
    assert "secret_value" in resource["secret_inputs"]
    assert "secret_value" in resource["secret_outputs"]
    assert "__provider" in resource["secret_inputs"]
    assert resource["outputs"]["secret_value"]["value"] == "s3cr3t-value"
    assert world.state()["secret_outputs"] == ["password"]

    assert result.outputs["password"] == "hunter22"
    assert result.secret_outputs == frozenset({"password"})
    assert "hunter22" not in result.summary()
    assert world.harness([item]).up().ops() == {"a": "same"}


def test_check_failures_are_all_reported(world: World) -> None:
    bad = {"name": "bad", "filename": "dir/x.txt", "content": ""}
    with pytest.raises(CheckFailedError) as caught:
        world.harness([bad]).up()
    error = caught.value
    assert {f.property for f in error.failures} == {"content", "filename"}
    assert "content must be a non-empty string" in str(error)
    assert "filename must be a plain file name" in str(error)
    assert world.effects() == [] and world.files() == {}
    assert error.result is not None and not error.result.ok


def test_provider_failure_keeps_earlier_steps_checkpointed(world: World) -> None:
    failing = {**B, "after": "a", "fail_on_create": True}
    with pytest.raises(ProviderError) as caught:
        world.harness([A, failing]).up()
    error = caught.value
    assert error.method == "Create" and error.urn == urn("b")
    assert "refusing to create b.txt" in error.message
    assert error.result is not None and error.result.ops() == {"a": "create"}
    assert list(world.state()["resources"]) == [urn("a")]  # the failed create records nothing
    assert world.files() == {"a.txt": "alpha"}

    fixed = world.harness([A, {**B, "after": "a"}]).up()
    assert fixed.ops() == {"a": "same", "b": "create"}


def test_program_failure_deletes_nothing(world: World) -> None:
    world.harness([A, B]).up()
    harness = EngineHarness(failing_program, state_file=world.state_file, config=world.config([A]))
    with pytest.raises(ProgramError, match="broken on purpose"):
        harness.up()
    assert world.files() == {"a.txt": "alpha", "b.txt": "beta"}
    assert set(world.state()["resources"]) == {urn("a"), urn("b")}


def test_stack_outputs_and_config(world: World) -> None:
    result = world.harness([A], config={"vigo:uri": "qemu:///system"}).up()
    assert result.outputs == {
        "count": 2 - 1,
        "paths": {"a": str(world.dir / "a.txt")},
        "uri": "qemu:///system",
    }
    assert world.state()["outputs"]["uri"] == "qemu:///system"
    assert 'uri: "qemu:///system"' in result.summary()


def test_destroy_deletes_everything(world: World) -> None:
    world.harness([A, {**B, "after": "a"}, C]).up()
    result = world.harness([A]).destroy()
    assert sorted(result.ops().values()) == ["delete"] * 3
    assert world.ops()[-1] == ("delete", "a.txt")  # b depends on a: a goes last
    assert world.files() == {}
    assert world.state()["resources"] == {} and world.state()["outputs"] == {}


def _slow(i: int, delay: float) -> dict[str, Any]:
    return {"name": f"f{i}", "filename": f"f{i}.txt", "content": "x", "delay": delay}


def _max_overlap(effects: list[dict[str, Any]]) -> int:
    creates = [e for e in effects if e["op"] == "create"]
    return max(sum(1 for o in creates if o["t0"] <= c["t0"] < o["t1"]) for c in creates)


def test_independent_creates_run_concurrently(world: World) -> None:
    items = [
        {"name": f"f{i}", "filename": f"f{i}.txt", "content": "x", "delay": 0.4} for i in range(10)
    ]
    started = time.monotonic()
    result = world.harness(items, parallel=10).up()
    elapsed = time.monotonic() - started
    assert result.counts() == {"create": 10}
    # The harness sends all ten at once; the dynamic provider's gRPC server has 4 worker
    # threads (pulumi/dynamic/__main__.py), so at most four run inside the provider at a time.
    assert _max_overlap(world.effects()) == 4
    assert elapsed < 10 * 0.4


def test_parallel_one_serialises_steps(world: World) -> None:
    items = [
        {"name": f"f{i}", "filename": f"f{i}.txt", "content": "x", "delay": 0.2} for i in range(4)
    ]
    world.harness(items, parallel=1).up()
    assert _max_overlap(world.effects()) == 1


class _NoBadFiles:
    """An analyzer: files named bad* are forbidden, empty-ish content is discouraged."""

    def __init__(self) -> None:
        self.seen: list[PlannedStep] = []

    def analyze(self, step: PlannedStep) -> list[Violation]:
        self.seen.append(step)
        found = []
        if str(step.inputs.get("filename", "")).startswith("bad"):
            found.append(Violation("no-bad-files", "bad files are forbidden"))
        if step.inputs.get("content") == "x":
            found.append(Violation("meaningful-content", "say more", mandatory=False))
        return found

    def analyze_stack(self, resources: list[StackResource]) -> list[Violation]:
        return []


def test_analyzers_gate_each_step(world: World) -> None:
    analyzer = _NoBadFiles()
    bad = {"name": "bad", "filename": "bad.txt", "content": "x"}
    ok = {"name": "ok", "filename": "ok.txt", "content": "x"}
    with pytest.raises(PolicyViolationError, match="no-bad-files"):
        world.harness([bad], analyzers=[analyzer]).up()
    assert world.files() == {}
    assert analyzer.seen[0].op == "create" and "__provider" not in analyzer.seen[0].inputs

    result = world.harness([ok], analyzers=[analyzer]).up()
    assert [w.policy for w in result.warnings] == ["meaningful-content"]
    assert world.files() == {"ok.txt": "x"}

    preview = world.harness([ok, bad], analyzers=[analyzer], raise_on_error=False).preview()
    assert [type(e) for e in preview.errors] == [PolicyViolationError]
    assert preview.ops() == {"ok": "same", "bad": "create"}  # a preview shows everything


def test_up_with_preview_first_stops_before_changing(world: World) -> None:
    analyzer = _NoBadFiles()
    items = [A, {"name": "bad", "filename": "bad.txt", "content": "y"}]
    result = world.harness(items, analyzers=[analyzer], raise_on_error=False).up(preview_first=True)
    assert result.verb == "preview" and not result.ok
    assert world.files() == {}


def test_unknown_diff_falls_back_to_comparing_inputs(world: World) -> None:
    plain = {**A, "plain": True}
    world.harness([plain]).up()
    # DIFF_UNKNOWN with unchanged inputs is "same" (the engine's diffResource fallback) ...
    assert world.harness([plain]).up().ops() == {"a": "same"}
    assert world.ops() == [("create", "a.txt")]
    # ... and with changed inputs an update of the changed keys.
    result = world.harness([{**plain, "content": "changed"}]).up()
    assert (result.step("a").op, result.step("a").diffs) == ("update", ("content",))
    assert world.files() == {"a.txt": "changed"}


def test_delete_before_replace_replaces_dependents_first(world: World) -> None:
    # b's filename (a replacing input) comes from a; c's content (updated in place) from a.
    a = {**A, "dbr": True}
    b = {**B, "name_after": "a"}
    c = {**C, "after": "a"}
    world.harness([a, b, c], parallel=1).up()
    assert world.files().keys() == {"a.txt", "a.txt.dep", "c.txt"}

    result = world.harness([{**a, "filename": "a2.txt"}, b, c], parallel=1).up()
    # As the engine's calculateDependentReplacements decides: b would be replaced by a's
    # replacement, so it is deleted before a and re-created after; c is only updated.
    assert result.ops() == {"a": "replace", "b": "replace", "c": "update"}
    assert result.step("b").delete_before_replace and result.step("b").replaces == ("filename",)
    changes = [e for e in world.ops()[3:] if e[0] != "update"]
    assert changes == [
        ("delete", "a.txt.dep"),
        ("delete", "a.txt"),
        ("create", "a2.txt"),
        ("create", "a2.txt.dep"),
    ]
    assert world.files().keys() == {"a2.txt", "a2.txt.dep", "c.txt"}
    assert world.state()["pending_deletes"] == []
