"""whole_number: the one grammar of whole numbers (provider inputs and policy rules)."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pulumi_vigo_vm.common.numbers import as_wire, as_written, shown, whole_number
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.cloudinit import SeedContent, meta_data
from pulumi_vigo_vm.vm.inputs import MAX_VCPU, cloud_init_meta_data
from pulumi_vigo_vm.vm.spec import check_inputs

from ._values import VALID_PROPS

WIDE = 10**30


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_every_wire_form_of_a_whole_number_means_that_number(n: int) -> None:
    forms: list[Any] = [n, float(n), str(n), f" {n} ", f"{n}.0", f"{n}.", f"{n}.000"]
    if n >= 0:
        forms.append(f"+{n}")
    for form in forms:
        assert whole_number(form, -WIDE, WIDE) == n


def test_integral_floats_and_huge_ints_are_exact() -> None:
    assert whole_number(2**53 + 1, 0, math.inf) == 2**53 + 1
    assert whole_number(str(2**53 + 1), 0, math.inf) == 2**53 + 1  # no detour through a double
    assert whole_number("99999999999999999999", 0, math.inf) == 99999999999999999999
    assert whole_number(1e300, 0, math.inf) == int(1e300)
    assert type(whole_number(4096.0, 1, 8192)) is int


@pytest.mark.parametrize(
    "value",
    ["4e3", "4E3", "1.5e1", "1e400", "0x10", "4_096", "4096.5", ".5", "1,000", "", " ", "abc",
     "inf", "nan", "-inf", "12x", 4096.5, float("nan"), float("inf"), float("-inf"), None,
     [4096], {"n": 1}, b"12"],
)  # fmt: skip
def test_non_numbers_are_refused_quoting_the_value(value: Any) -> None:
    with pytest.raises(ValueError) as error:
        whole_number(value, 0, 10**6, " MiB")
    assert str(error.value) == f"must be a whole number MiB, got {shown(value)}"


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused_without_a_unit(value: bool) -> None:
    with pytest.raises(ValueError) as error:
        whole_number(value, 0, 10, " MiB")
    assert str(error.value) == f"must be a whole number, got {value!r}"


def test_bounds_are_inclusive_and_named_with_the_unit() -> None:
    assert whole_number("1", 1, 3, " GiB") == 1
    assert whole_number(3.0, 1, 3, " GiB") == 3
    with pytest.raises(ValueError, match=r"^must be at least 1 GiB, got 0$"):
        whole_number("0.0", 1, 3, " GiB")
    with pytest.raises(ValueError, match=r"^must be at most 3 GiB, got 4$"):
        whole_number(4.0, 1, 3, " GiB")
    with pytest.raises(ValueError, match=r"^must be at least 0 seconds, got -1$"):
        whole_number(" -1 ", 0, 10, " seconds")


def test_shown_cuts_long_values_to_forty_characters() -> None:
    assert shown("abc") == "'abc'"
    long = shown("x" * 100)
    assert len(long) == 40 and long.endswith("...") and long.startswith("'xxx")
    assert shown("x" * 38) == repr("x" * 38)  # exactly 40 characters: kept whole
    with pytest.raises(ValueError) as error:
        whole_number("9" * 60 + "e3", 0, 10)
    assert str(error.value) == f"must be a whole number, got {shown('9' * 60 + 'e3')}"


@given(st.integers(), st.integers(), st.integers())
def test_a_value_in_range_is_returned_and_out_of_range_refused(n: int, a: int, b: int) -> None:
    low, high = min(a, b), max(a, b)
    if low <= n <= high:
        assert whole_number(n, low, high) == n
        assert whole_number(str(n), low, high) == n
    else:
        with pytest.raises(ValueError, match=r"^must be at (least|most) "):
            whole_number(n, low, high)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_accepted_exactly_when_finite_and_integral(f: float) -> None:
    if math.isfinite(f) and f.is_integer():
        assert whole_number(f, -(10**400), math.inf) == int(f)
    else:
        with pytest.raises(ValueError, match="must be a whole number"):
            whole_number(f, 0, math.inf)


@given(st.text(max_size=12))
def test_never_raises_anything_but_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        whole_number(text, -WIDE, WIDE)


# ------------------------------------------------------------------ same as the provider

VCPU_FORMS = st.one_of(
    st.integers(-5, MAX_VCPU + 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.from_regex(r"\A\s?[+-]?\d{1,5}(\.\d{0,2})?([eE][+-]?\d)?\s?\Z"),
    st.text(max_size=8),
)


@given(VCPU_FORMS)
def test_agrees_with_the_providers_input_check(value: Any) -> None:
    assume(value != "")  # the provider reads an empty string as an absent input
    values, faults = check_inputs({**VALID_PROPS, "vcpu": value}, ProviderDefaults())
    reasons = [fault.reason for fault in faults if fault.property == "vcpu"]
    try:
        expected = whole_number(value, 1, MAX_VCPU)
    except ValueError as error:
        assert reasons == [str(error)]
    else:
        assert reasons == [] and values["vcpu"] == expected


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_meta_data_crosses_the_wire_as_the_user_wrote_it_and_hashes_as_before(value: Any) -> None:
    """What the program wrote, sent as the wire does (ints as doubles), checked by the
    provider, is what it wrote (an int stays an int), and the seed hash is the previous
    release's, which hashed the wire's doubles: no seed renamed, no VM replaced."""
    wire = as_wire({"k": value})
    checked = cloud_init_meta_data(wire)
    assert checked == {"k": value}
    assert json.dumps(checked, sort_keys=True) == json.dumps(
        as_written({"k": value}), sort_keys=True
    )
    assert SeedContent(meta_data=checked).hash == SeedContent(meta_data=wire).hash


def test_the_seed_hash_of_integer_meta_data_is_the_previous_releases() -> None:
    # Computed by the previous release, which saw (and hashed) {"port": 8080.0}.
    assert SeedContent(meta_data=cloud_init_meta_data({"port": 8080.0})).hash == "d9f30e48"
    assert json.loads(meta_data("vm", "d9f30e48", {"port": 8080.0}))["port"] == 8080.0
    assert '"port": 8080,' in meta_data("vm", "d9f30e48", cloud_init_meta_data({"port": 8080.0}))
