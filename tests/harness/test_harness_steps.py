"""The engine harness's step rules as pure functions, without a program or a provider.

These are the decisions the engine's step generator makes (pkg/resource/deploy/
step_generator.go): what a ``Diff`` becomes, which order a replace uses, ``ignore_changes``,
which dependents a delete-before-replace replaces first, delete order and alias URNs. The
end-to-end tests prove the same rules through real providers; these pin them down alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pulumi_vigo_vm.testing import props
from pulumi_vigo_vm.testing.aliases import (
    Alias,
    collapse_alias_to_urn,
    generate_aliases,
    inherited_child_alias,
)
from pulumi_vigo_vm.testing.deletes import delete_schedule
from pulumi_vigo_vm.testing.errors import UnsupportedResourceError
from pulumi_vigo_vm.testing.providerhost import DiffResult
from pulumi_vigo_vm.testing.state import ResourceState
from pulumi_vigo_vm.testing.steps import (
    DIFF_NONE,
    DIFF_SOME,
    DIFF_UNKNOWN,
    Plan,
    apply_ignore_changes,
    decide_diff,
    delete_before_replace,
    dependent_replacements,
    refresh_diffs,
)
from pulumi_vigo_vm.testing.urns import registration_urn

STACK = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"


def decide(
    diff: DiffResult,
    olds: props.PropertyMap,
    news: props.PropertyMap,
    *,
    replace_on_changes: Sequence[str] = (),
    delete_before_replace_defined: bool = False,
) -> Plan:
    return decide_diff(
        diff,
        olds,
        news,
        replace_on_changes=replace_on_changes,
        delete_before_replace_defined=delete_before_replace_defined,
        delete_before_replace_requested=False,
    )


def test_diff_none_is_same_and_some_is_update() -> None:
    assert decide(DiffResult(DIFF_NONE), {"a": 1}, {"a": 2}).op == "same"
    plan = decide(DiffResult(DIFF_SOME, diffs=["a"]), {"a": 1}, {"a": 2})
    assert (plan.op, plan.diffs, plan.replaces) == ("update", ("a",), ())


def test_unknown_diff_falls_back_to_comparing_inputs() -> None:
    assert decide(DiffResult(DIFF_UNKNOWN), {"a": 1}, {"a": 1}).op == "same"
    plan = decide(DiffResult(DIFF_UNKNOWN), {"a": 1, "b": 1}, {"a": 1, "b": 2})
    assert (plan.op, plan.diffs) == ("update", ("b",))
    # DIFF_SOME naming no keys: the changed keys are computed the same way.
    assert decide(DiffResult(DIFF_SOME), {"a": 1}, {"a": 2}).diffs == ("a",)


def test_a_refresh_shows_the_providers_diff_and_falls_back_to_outputs_only_unnamed() -> None:
    """As pulumi >= 3.117: an output-only change the provider's Diff calls none is no drift;
    a named diff shows its names; an unnamed one (or the legacy display) the changed outputs."""
    old, new = {"size": 1.0, "attached_to": []}, {"size": 1.0, "attached_to": ["vm"]}
    assert refresh_diffs(DiffResult(changes=DIFF_NONE), old, new) == ()
    assert refresh_diffs(DiffResult(DIFF_SOME, diffs=["size"]), old, new) == ("size",)
    assert refresh_diffs(DiffResult(changes=DIFF_SOME), old, new) == ("attached_to",)
    assert refresh_diffs(None, old, new) == ("attached_to",)


def test_replace_on_changes_turns_changed_keys_into_replaces() -> None:
    diff = DiffResult(DIFF_SOME, diffs=["a", "b"])
    assert decide(diff, {}, {}, replace_on_changes=["b"]).replaces == ("b",)
    plan = decide(diff, {}, {}, replace_on_changes=["*"])
    assert (plan.op, plan.replaces, plan.diffs) == ("replace", ("a", "b"), ("a", "b"))


def test_delete_before_replace_option_overrides_the_provider() -> None:
    assert delete_before_replace(True, defined=False, requested=False) is True
    assert delete_before_replace(True, defined=True, requested=False) is False
    assert delete_before_replace(False, defined=False, requested=True) is True
    diff = DiffResult(DIFF_SOME, replaces=["a"], diffs=["a"], delete_before_replace=True)
    assert decide(diff, {}, {}).delete_before_replace is True
    plan = decide(diff, {}, {}, delete_before_replace_defined=True)
    assert plan.delete_before_replace is False


def test_ignore_changes_keeps_old_values_top_level_only() -> None:
    news = {"a": 2, "b": 2}
    assert apply_ignore_changes(news, {"a": 1}, ["a", "b"], "u") == {"a": 1}
    assert news == {"a": 2, "b": 2}
    with pytest.raises(UnsupportedResourceError, match="only top-level"):
        apply_ignore_changes(news, {}, ["a.b"], "u")


def res(name: str, order: int, deps: dict[str, list[str]] | None = None) -> ResourceState:
    deps = deps or {}
    return ResourceState(
        urn=f"urn:{name}",
        type="t",
        id=name,
        inputs={k: "v" for k in deps},
        outputs={},
        order=order,
        dependencies=sorted({u for urns in deps.values() for u in urns}),
        property_dependencies=deps,
    )


def test_dependent_replacements_follow_the_replace_set() -> None:
    root = res("a", 0)
    b = res("b", 1, {"x": ["urn:a"]})
    c = res("c", 2, {"y": ["urn:b"]})
    d = res("d", 3, {"z": ["urn:c"]})
    seen: list[tuple[str, props.PropertyMap]] = []

    def diff(r: ResourceState, news: props.PropertyMap) -> DiffResult:
        seen.append((r.urn, news))
        # b is replaced by an unknown x; c would only update, so d is not touched.
        return DiffResult(DIFF_SOME, replaces=["x"] if r.urn == "urn:b" else [])

    result = dependent_replacements(root, [root, b, c, d], diff)
    assert [(r.urn, keys) for r, keys in result] == [("urn:b", ("x",))]
    assert seen == [("urn:b", {"x": props.UNKNOWN}), ("urn:c", {"y": props.UNKNOWN})]


def test_delete_schedule_is_reverse_order_dependents_first() -> None:
    a, b, c = res("a", 0), res("b", 1, {"x": ["urn:a"]}), res("c", 2)
    ordered, waits = delete_schedule([a, c, b])
    assert [r.urn for r in ordered] == ["urn:c", "urn:b", "urn:a"]
    assert waits == [[], [], [1]]


def test_urns_and_aliases() -> None:
    assert registration_urn("dev", "proj", "t:a", STACK, "x") == "urn:pulumi:dev::proj::t:a::x"
    parent = "urn:pulumi:dev::proj::t:c::p"
    assert registration_urn("dev", "proj", "t:a", parent, "x") == (
        "urn:pulumi:dev::proj::t:c$t:a::x"
    )

    def collapse(alias: Alias) -> str:
        return collapse_alias_to_urn(
            "x", "t:a", parent, alias, aliases={}, project="proj", stack="dev"
        )

    assert collapse(Alias(name="old")) == "urn:pulumi:dev::proj::t:c$t:a::old"
    assert collapse(Alias(no_parent=True)) == "urn:pulumi:dev::proj::t:a::x"
    assert collapse(Alias(urn="urn:whole")) == "urn:whole"
    old_parent = "urn:pulumi:dev::proj::t:c::q"
    assert inherited_child_alias("t:a", "p-disk", "p", old_parent, project="proj", stack="dev") == (
        "urn:pulumi:dev::proj::t:c$t:a::q-disk"
    )
    aliases = generate_aliases(
        "p-disk", "t:a", parent, [], aliases={parent: old_parent}, project="proj", stack="dev"
    )
    assert aliases == ["urn:pulumi:dev::proj::t:c$t:a::q-disk"]


def test_engine_module_keeps_its_names() -> None:
    from pulumi_vigo_vm.testing import engine

    for name in ("DEFAULT_PARALLEL", "DYNAMIC_TYPE_PREFIX", "AliasError", "EngineHarness"):
        assert hasattr(engine, name)
    for name in ("Program", "RunResult", "Snapshot", "load_snapshot", "save_snapshot"):
        assert hasattr(engine, name)
