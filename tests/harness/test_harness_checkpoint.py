"""The harness writes its checkpoint as the engine does: after every step that changed
something, not after a ``same`` step that changed nothing (``sameSnapshotMutation.mustWrite``,
pkg/backend/snapshot.go), and once at the end of a run whose last write was elided.

The integration tests see the file on disk as a later step starts: the file provider's
``check`` copies it (``peek``), and that step's registration waits for the earlier one's
outputs (``after``), which the harness returns only once that step is checkpointed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from harness_world import World

from pulumi_vigo_vm.testing.elision import outputs_must_write, same_step_must_write
from pulumi_vigo_vm.testing.props import deep_equals, make_secret
from pulumi_vigo_vm.testing.state import ResourceState, load_snapshot

A = {"name": "a", "filename": "a.txt", "content": "alpha"}
B = {"name": "b", "filename": "b.txt", "content": "beta", "after": "a"}
C = {"name": "c", "filename": "c.txt", "content": "gamma", "after": "b"}
TYPE = "pulumi-python:dynamic/harness:File"


def urn(name: str) -> str:
    return f"urn:pulumi:dev::project::{TYPE}::{name}"


def peeking(world: World, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` copying the checkpoint to ``peek.json`` as its step starts."""
    return {**item, "peek": [str(world.state_file), str(world.root / "peek.json")]}


def test_a_step_that_changed_nothing_writes_no_checkpoint(world: World) -> None:
    world.harness([A, B]).up()
    before = world.state_file.read_bytes()

    again = world.harness([A, peeking(world, B)]).up()

    assert again.ops() == {"a": "same", "b": "same"}
    assert (world.root / "peek.json").read_bytes() == before, "a's step wrote the checkpoint"
    # b's inputs changed (Diff ignores "peek"), so its step was written, and the file holds
    # what the elided step changed too: a's new registration order.
    snapshot = world.harness([A]).snapshot()
    assert snapshot.resources[urn("b")].inputs["peek"][0] == str(world.state_file)
    assert [r.name for r in snapshot.ordered()] == ["a", "b"]
    assert snapshot.resources[urn("a")].order > json.loads(before)["resources"][urn("a")]["order"]
    assert world.harness([A, peeking(world, B)]).preview().ops() == {"a": "same", "b": "same"}


def test_a_no_op_up_writes_what_it_elided_at_the_end(world: World) -> None:
    world.harness([A, B]).up()
    before = load_snapshot(world.state_file)

    assert world.harness([A, B]).up().ops() == {"a": "same", "b": "same"}

    after = load_snapshot(world.state_file)
    assert after.next_order == before.next_order + 2, "the run's end wrote what it elided"
    assert after.resources[urn("b")].inputs == before.resources[urn("b")].inputs
    assert world.harness([A, B]).up().ops() == {"a": "same", "b": "same"}


def test_a_same_step_whose_inputs_changed_is_written_before_the_next_step(world: World) -> None:
    world.harness([A, B, C]).up()

    noted = {**B, "note": "ignored by Diff"}
    result = world.harness([A, noted, peeking(world, C)]).up()

    assert result.ops() == {"a": "same", "b": "same", "c": "same"}
    seen = load_snapshot(world.root / "peek.json")
    assert seen.resources[urn("b")].inputs["note"] == "ignored by Diff"


def test_an_update_is_written_before_the_next_step(world: World) -> None:
    world.harness([A, B]).up()

    result = world.harness([{**A, "content": "ALPHA"}, peeking(world, B)]).up()

    assert result.ops() == {"a": "update", "b": "same"}
    seen = load_snapshot(world.root / "peek.json")
    assert seen.resources[urn("a")].plain_outputs()["content"] == "ALPHA"


OLD = ResourceState(
    urn=urn("a"),
    type=TYPE,
    id="/files/a.txt",
    inputs={"content": "alpha", "size": 2.0, "secret": make_secret("s"), "opt": None},
    outputs={"content": "alpha", "path": "/files/a.txt", "tags": ["x", "y"]},
    order=1,
    parent="",
    dependencies=[urn("b"), urn("c")],
    property_dependencies={"content": [urn("b")]},
)


@pytest.mark.parametrize(
    "change",
    [
        {"urn": urn("a2")},
        {"type": "pulumi-python:dynamic/harness:Other"},
        {"retain_on_delete": True},
        {"parent": "urn:pulumi:dev::project::harness:index:Group::g"},
        {"protect": True},
        {"inputs": {**OLD.inputs, "content": "ALPHA"}},
        {"inputs": {**OLD.inputs, "secret": "s"}},
        {"inputs": {**OLD.inputs, "size": True}},
        {"outputs": {**OLD.outputs, "tags": ["y", "x"]}},
        {"outputs": {**OLD.outputs, "extra": 0.0}},
        {"dependencies": [urn("b")]},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_engine_writes_a_same_step_that_changed_this(change: dict[str, Any]) -> None:
    assert same_step_must_write(OLD, dataclasses.replace(OLD.copy(), **change))


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"order": 7},
        {"property_dependencies": {}},
        {"additional_secret_outputs": ["content"]},
        {"dependencies": [urn("c"), urn("b")]},
        {"inputs": {k: v for k, v in OLD.inputs.items() if k != "opt"}},
        {"inputs": {**OLD.inputs, "size": 2}},
        {"outputs": {**OLD.outputs, "gone": None}},
    ],
    ids=lambda change: next(iter(change), "nothing"),
)
def test_the_engine_elides_a_same_step_that_changed_only_this(change: dict[str, Any]) -> None:
    assert not same_step_must_write(OLD, dataclasses.replace(OLD.copy(), **change))


def test_property_values_compare_as_the_engine_compares_them() -> None:
    assert deep_equals({"a": {"b": None}}, {"a": {}}) and deep_equals({}, {"a": None})
    assert deep_equals([1.0, "x"], [1, "x"])
    assert not deep_equals({"a": True}, {"a": 1.0})
    assert not deep_equals(make_secret("s"), "s")
    assert deep_equals(make_secret({"k": 1.0}), make_secret({"k": 1.0, "n": None}))
    assert not deep_equals([None], [])
    assert not outputs_must_write({"n": 1.0, "m": None}, {"n": 1.0})
    assert outputs_must_write({"n": 1.0}, {"n": 2.0})
