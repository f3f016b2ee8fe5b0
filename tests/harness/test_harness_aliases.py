"""Resource aliases in the engine harness, as the engine resolves them.

The engine (pkg/resource/deploy/step_generator.go, ``getOldResource``) looks a registration up
under its URN, then under each alias URN; an old state found under an alias *is* the old state
of the renamed resource: ``Check`` gets its inputs, ``Diff`` its ID and outputs, and the step is
a ``same``/``update`` (or replace, if the diff says so), never a create plus a delete. These
tests prove that with the real file provider, whose effect log shows every real change.
"""

from __future__ import annotations

import pytest
from harness_world import World

from pulumi_vigo_vm.testing.engine import AliasError

A = {"name": "a", "filename": "a.txt", "content": "alpha"}
B = {"name": "b", "filename": "b.txt", "content": "beta"}
TYPE = "pulumi-python:dynamic/harness:File"
GROUP = "harness:index:Group"


def urn(name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${TYPE}" if parent_type else TYPE
    return f"urn:pulumi:dev::project::{qualified}::{name}"


def test_rename_with_an_alias_is_the_same_resource(world: World) -> None:
    first = world.harness([{**A, "log_diffs": True}]).up()
    old_id = first.step("a").id

    renamed = {**A, "name": "a2", "log_diffs": True, "aliases": [{"name": "a"}]}
    result = world.harness([renamed]).up()
    assert result.ops() == {"a2": "same"}
    step = result.step("a2")
    assert (step.urn, step.old_urn, step.id) == (urn("a2"), urn("a"), old_id)
    # The provider's Diff was given the old resource's ID and outputs (``path`` and
    # ``written`` are outputs only), under the new URN; nothing was created or deleted.
    diff = world.effects()[-1]
    assert diff["op"] == "diff" and diff["id"] == old_id and diff["old_path"] == old_id
    assert "written" in diff["olds"]
    assert [op for op, _ in world.ops()] == ["create", "diff"]
    assert list(world.state()["resources"]) == [urn("a2")]
    assert world.state()["resources"][urn("a2")]["id"] == old_id

    # The next run finds it under its new URN; the alias may stay or go.
    assert world.harness([{**renamed, "aliases": []}]).up().ops() == {"a2": "same"}


def test_rename_with_a_change_is_an_update_of_the_old_instance(world: World) -> None:
    world.harness([A]).up()
    renamed = {**A, "name": "a2", "content": "ALPHA", "aliases": [{"name": "a"}]}
    result = world.harness([renamed]).up()
    assert result.ops() == {"a2": "update"}
    assert world.ops()[-1] == ("update", "a.txt")
    assert world.effects()[-1]["old_content"] == "alpha"  # Update got the old outputs
    assert world.files() == {"a.txt": "ALPHA"}


def test_rename_without_an_alias_replaces(world: World) -> None:
    world.harness([A]).up()
    result = world.harness([{**A, "name": "a2", "filename": "a2.txt"}]).up()
    assert result.ops() == {"a2": "create", "a": "delete"}


def test_preview_of_a_rename_changes_nothing(world: World) -> None:
    world.harness([A]).up()
    before = world.state_file.read_bytes()
    result = world.harness([{**A, "name": "a2", "aliases": [{"name": "a"}]}]).preview()
    assert result.ops() == {"a2": "same"}
    assert result.step("a2").old_urn == urn("a")
    assert world.state_file.read_bytes() == before


def test_urn_aliases_and_legacy_alias_urns(world: World) -> None:
    world.harness([A, B]).up()
    # A whole old URN as the alias ...
    by_urn = {**A, "name": "a2", "aliases": [{"urn": urn("a")}]}
    # ... and, with a monitor lacking aliasSpecs, the URNs the SDK computes (``aliasURNs``).
    legacy = {**B, "name": "b2", "aliases": [{"name": "b"}]}
    harness = world.harness([by_urn, legacy], config={"test:legacy_aliases": "1"})
    assert harness.up().ops() == {"a2": "same", "b2": "same"}
    assert [op for op, _ in world.ops()] == ["create", "create"]


def test_references_to_the_old_urn_are_rewritten(world: World) -> None:
    world.harness([A, {**B, "after": "a"}]).up()
    assert world.state()["resources"][urn("b")]["dependencies"] == [urn("a")]
    # b does not register this time (the program fails after a2), so only the rewrite
    # can make its recorded dependency name the renamed resource.
    from harness_programs import failing_program

    from pulumi_vigo_vm.testing import EngineHarness, ProgramError

    config = world.config([{**A, "name": "a2", "aliases": [{"name": "a"}]}])
    with pytest.raises(ProgramError):
        EngineHarness(failing_program, state_file=world.state_file, config=config).up()
    resources = world.state()["resources"]
    assert set(resources) == {urn("a2"), urn("b")}
    assert resources[urn("b")]["dependencies"] == [urn("a2")]


def test_reparent_with_an_alias(world: World) -> None:
    world.harness([A]).up()
    moved = {**A, "parent": "grp", "aliases": [{"parent": None}]}  # it had no parent before
    result = world.harness([moved], config={"test:groups": '[{"name": "grp"}]'}).up()
    assert result.ops() == {"a": "same"}
    new_urn = urn("a", GROUP)
    assert (result.step("a").urn, result.step("a").old_urn) == (new_urn, urn("a"))
    resource = world.state()["resources"][new_urn]
    assert resource["parent"] == f"urn:pulumi:dev::project::{GROUP}::grp"
    assert list(world.state()["resources"]) == [new_urn]

    # Moving it back out names the group as the old parent.
    back = {**A, "aliases": [{"parent": "grp"}]}
    again = world.harness([back], config={"test:groups": '[{"name": "grp"}]'}).up()
    assert again.ops() == {"a": "same"} and again.step("a").old_urn == new_urn
    assert [op for op, _ in world.ops()] == ["create"]


def test_children_inherit_their_parents_alias(world: World) -> None:
    child = {"name": "grp-f", "filename": "f.txt", "content": "x", "parent": "grp"}
    world.harness([child], config={"test:groups": '[{"name": "grp"}]'}).up()

    # The group is renamed (with an alias); its child, named after it, is renamed with it and
    # has no alias of its own: the engine's inheritedChildAlias finds it.
    groups = '[{"name": "box", "aliases": [{"name": "grp"}]}]'
    renamed = {**child, "name": "box-f", "parent": "box"}
    result = world.harness([renamed], config={"test:groups": groups}).up()
    assert result.ops() == {"box-f": "same"}
    assert result.step("box-f").old_urn == urn("grp-f", GROUP)
    assert [op for op, _ in world.ops()] == ["create"]


def test_two_resources_claiming_one_old_resource_fail(world: World) -> None:
    world.harness([A]).up()
    x = {**A, "name": "x", "aliases": [{"name": "a"}]}
    y = {**A, "name": "y", "filename": "y.txt", "aliases": [{"name": "a"}], "after": "x"}
    with pytest.raises(AliasError) as caught:
        world.harness([x, y]).up()
    assert str(caught.value) == (
        f"Duplicate resource alias '{urn('a')}' applied to resource with URN '{urn('y')}' "
        f"conflicting with resource with URN '{urn('x')}'\nresource {urn('y')} is invalid"
    )
    assert caught.value.result is not None and "y" not in caught.value.result.ops()
    assert [op for op, _ in world.ops()] == ["create"]  # nothing created, nothing deleted
    assert world.files() == {"a.txt": "alpha"}


def test_alias_of_a_live_resource_fails(world: World) -> None:
    world.harness([A]).up()
    # a registers first, then b claims a's URN as its alias.
    claimer = {**B, "aliases": [{"name": "a"}], "after": "a"}
    with pytest.raises(AliasError, match="Duplicate resource alias") as caught:
        world.harness([A, claimer]).up()
    assert f"applied to resource with URN '{urn('b')}'" in str(caught.value)

    # b claims a first, then a registers: the engine's other wording (diagnostic 2016).
    first = {**B, "aliases": [{"name": "a"}]}
    late = {**A, "after": "b"}
    with pytest.raises(AliasError) as caught:
        world.harness([first, late]).up()
    assert str(caught.value).startswith(
        f"Duplicate resource URN '{urn('a')}' conflicting with alias on resource with URN "
        f"'{urn('b')}'"
    )
    # b had replaced the old a (its filename differs) before a registered; as in the engine,
    # the failed run deletes nothing: the old a waits as a pending delete.
    assert world.files() == {"a.txt": "alpha", "b.txt": "beta"}
    assert [r["urn"] for r in world.state()["pending_deletes"]] == [urn("a")]
