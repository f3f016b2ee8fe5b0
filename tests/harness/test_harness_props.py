"""The engine's property rules, as the harness implements them."""

from __future__ import annotations

from pulumi_vigo_vm.testing import props


def test_annotate_secrets_follows_the_engine() -> None:
    ins = {"a": props.make_secret("x"), "nested": {"k": props.make_secret(1.0), "p": 2.0}, "b": 1}
    outs = {"a": "x", "nested": {"k": 1.0, "p": 2.0}, "b": 1, "c": "new"}
    annotated = props.annotate_secrets(outs, ins)
    assert props.is_secret(annotated["a"])
    assert props.is_secret(annotated["nested"]["k"]) and not props.is_secret(
        annotated["nested"]["p"]
    )
    assert annotated["b"] == 1 and annotated["c"] == "new"
    assert props.unwrap_secrets(annotated) == outs


def test_wire_form_round_trip_turns_ints_into_floats() -> None:
    bag = {"n": 3, "l": [1, "x", None, True], "o": {"s": props.make_secret("v")}}
    back = props.from_struct(props.to_struct(bag))
    assert back == {"n": 3.0, "l": [1.0, "x", None, True], "o": {"s": props.make_secret("v")}}
    assert isinstance(back["n"], float)


def test_redaction_and_display_hide_secrets() -> None:
    secrets = props.secret_strings({"pw": props.make_secret("hunter22"), "u": "bob"})
    assert secrets == {"hunter22"}
    assert props.redact("login bob:hunter22 failed", secrets) == "login bob:[secret] failed"
    assert props.display({"pw": props.make_secret("hunter22"), "n": 2.0, "u": props.UNKNOWN}) == {
        "pw": "[secret]",
        "n": 2,
        "u": "[unknown]",
    }


def test_changed_keys_ignore_secretness() -> None:
    olds = {"a": props.make_secret("x"), "b": 1.0, "gone": 1}
    news = {"a": "x", "b": 2.0, "added": 1}
    assert props.changed_keys(olds, news) == ["added", "b", "gone"]
