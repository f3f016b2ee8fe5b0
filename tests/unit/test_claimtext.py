"""claimtext: a claim names the stack's state id and the resource; another state's claim for
the very same names is told apart, and an earlier release's claim is recognised as one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.common.claimtext import Claim, compose, conflict_hint, other_state, parse

OWNER = "organization/urn:pulumi:dev::infra::pulumi-python:dynamic/vigo:VigoVm::web01"
OURS = compose("a" * 32, OWNER)
THEIRS = compose("b" * 32, OWNER)  # the same names, another backend's state


@given(
    state=st.text("0123456789abcdef", min_size=32, max_size=32),
    owner=st.text(min_size=1, max_size=200),
)
def test_a_claim_reads_back_as_composed(state: str, owner: str) -> None:
    assert parse(compose(state, owner)) == Claim(state, owner)


@pytest.mark.parametrize("state", ["", "A" * 32, "a" * 31, "a" * 33, "g" * 32])
def test_only_a_state_id_of_32_lowercase_hex_digits_is_composed(state: str) -> None:
    with pytest.raises(ValueError, match="32 lowercase hex"):
        compose(state, OWNER)


@pytest.mark.parametrize("text", [OWNER, "state:/" + OWNER, "state:" + "a" * 32, "state:x/o"])
def test_anything_without_a_well_formed_state_prefix_is_a_legacy_claim(text: str) -> None:
    assert parse(text) == Claim(None, text)


@pytest.mark.parametrize(
    ("theirs", "ours", "other"),
    [
        (None, OURS, False),  # v1 marker: no claim at all
        (OWNER, OURS, False),  # the release before: no state id
        (OURS, OURS, False),
        (compose("a" * 32, OWNER + "-renamed"), OURS, False),  # a rename within our state
        (THEIRS, OURS, True),
        (THEIRS, OWNER, True),  # our outputs are still of the release before
        (THEIRS, None, True),  # our outputs are v1's
    ],
)
def test_a_claim_of_another_state_is_told_apart(
    theirs: str | None, ours: str | None, other: bool
) -> None:
    assert other_state(theirs, ours) is other


def test_the_hint_names_the_conflict_and_our_claim_for_the_same_names_only() -> None:
    assert "in another Pulumi state" in conflict_hint(THEIRS, OURS)
    assert OURS in conflict_hint(THEIRS, OURS)
    assert "earlier release" in conflict_hint(OWNER, OURS)
    assert conflict_hint(compose("b" * 32, OWNER + "x"), OURS) == ""  # other names
    assert conflict_hint(OURS, OURS) == ""
    assert conflict_hint(None, OURS) == conflict_hint(THEIRS, None) == ""
