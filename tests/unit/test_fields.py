"""The field table (pulumi_vigo_vm/fields.py) is the one list of a VigoVm's fields: these
tests fail when anything that spells the fields out again disagrees with it (the way
virt-manager's test suite checks every XML property is covered)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pulumi_vigo_vm import VigoVm, VigoVmArgs
from pulumi_vigo_vm.provider import _outputs
from pulumi_vigo_vm.vm.axes import INPUT_RULES
from pulumi_vigo_vm.vm.fields import INPUTS, OUTPUTS, TYPE_TOKEN, Change

from ._values import IDENTITY, make_base, make_spec

VM_REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "vm.md"
USER_INPUTS = [f for f in INPUTS if not f.set_by_resource]
ALL_NAMES = {f.name for f in INPUTS} | {f.name for f in OUTPUTS}


def test_vigovmargs_declares_exactly_the_user_inputs_in_table_order() -> None:
    declared = [(f.name, f.type) for f in dataclasses.fields(VigoVmArgs)]
    expected = [
        (f.name, f"Input[{f.annotation}]" + ("" if f.required else " | None")) for f in USER_INPUTS
    ]
    assert declared == expected


def test_vigovm_declares_every_input_and_output_as_an_output_attribute() -> None:
    declared = VigoVm.__annotations__  # strings: the module uses postponed annotations
    outputs = {name for name, hint in declared.items() if str(hint).startswith("Output[")}
    assert outputs == ALL_NAMES
    types = {f.name: f.annotation for f in OUTPUTS}
    for name, annotation in types.items():
        assert declared[name] == f"Output[{annotation}]", name


def test_the_provider_returns_exactly_the_table_s_fields() -> None:
    assert set(_outputs(make_spec(), make_base(), IDENTITY, "running")) == ALL_NAMES


def test_a_spec_records_exactly_the_inputs() -> None:
    assert list(make_spec().to_inputs()) == [f.name for f in INPUTS]


def test_every_input_has_a_diff_rule() -> None:
    for f in INPUTS:
        if f.change is Change.RULE:
            assert f.rule in INPUT_RULES, f.name
        else:
            assert f.rule is None, f.name
            getattr(make_spec(), f.name)  # compared attribute by attribute
    assert {f.rule for f in INPUTS if f.rule} == set(INPUT_RULES)


def _table(text: str, region: str) -> list[str]:
    """The field names of the marked table ``region`` of the reference page, in order."""
    body = text.split(f"<!-- BEGIN {region} -->", 1)[1].split(f"<!-- END {region} -->", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", body, re.MULTILINE)


def test_the_reference_page_documents_every_input_and_output_in_table_order() -> None:
    text = VM_REFERENCE.read_text()
    assert _table(text, "inputs") == [f.name for f in INPUTS]
    assert _table(text, "outputs") == [f.name for f in OUTPUTS]


def test_every_size_policy_caps_an_integer_input_of_the_table() -> None:
    from pulumi_vigo_vm.policies import SIZE_LIMITS

    integer_inputs = {f.name for f in INPUTS if f.annotation == "int | str"}
    vm_limits = {limit.input for limit in SIZE_LIMITS if limit.resource_type == TYPE_TOKEN}
    assert vm_limits <= integer_inputs
    assert {limit.input for limit in SIZE_LIMITS} - vm_limits == {"size_gib"}  # VigoDisk's
