"""The field table (pulumi_vigo_vm/vm/fields.py) is the one list of a VigoVm's fields: these
tests fail when anything that spells the fields out again disagrees with it (the way
virt-manager's test suite checks every XML property is covered). The reference page's tables
and the resource's attribute docstrings are generated from it (pulumi_vigo_vm.vm.fielddocs):
they fail here when they drift."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

from pulumi_vigo_vm import VigoVm, VigoVmArgs
from pulumi_vigo_vm.provider import _outputs
from pulumi_vigo_vm.vm import fielddocs
from pulumi_vigo_vm.vm.axes import INPUT_RULES
from pulumi_vigo_vm.vm.fields import INPUTS, OUTPUTS, TYPE_TOKEN, Change

from ._values import IDENTITY, make_base, make_spec

ROOT = Path(__file__).resolve().parents[2]
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


def test_vigovm_declares_its_attributes_in_table_order() -> None:
    declared = [name for name in VigoVm.__annotations__ if name in ALL_NAMES]
    assert declared == [f.name for f in (*INPUTS, *OUTPUTS)]


def test_the_reference_page_s_tables_are_the_field_table_s_docs() -> None:
    page = (ROOT / fielddocs.PAGE).read_text()
    assert fielddocs.with_tables(page) == page, "run python -m pulumi_vigo_vm.vm.fielddocs"


def _attribute_docstrings(source: str) -> dict[tuple[str, str], str]:
    """(class, attribute) -> the docstring under it, as an editor reads it."""
    found = {}
    classes = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    for cls in classes:
        for node, after in zip(cls.body, cls.body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
            ):
                found[cls.name, node.target.id] = str(after.value.value)
    return found


def test_the_resource_s_attribute_docstrings_are_the_field_table_s_docs() -> None:
    source = (ROOT / fielddocs.RESOURCE).read_text()
    assert fielddocs.with_docstrings(source) == source, "run python -m pulumi_vigo_vm.vm.fielddocs"
    docstrings = _attribute_docstrings(source)
    for f in USER_INPUTS:
        assert docstrings["VigoVmArgs", f.name] == docstrings["VigoVm", f.name], f.name
    for f in (*INPUTS, *OUTPUTS):
        expected = fielddocs.docstring(f.doc).strip().removeprefix('"""').removesuffix('"""')
        assert " ".join(docstrings["VigoVm", f.name].split()) == " ".join(expected.split())


def test_the_generator_rewrites_a_stale_page_and_module(tmp_path: Path) -> None:
    for relative in (fielddocs.PAGE, fielddocs.RESOURCE):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    page, resource = tmp_path / fielddocs.PAGE, tmp_path / fielddocs.RESOURCE
    fresh_page = fielddocs.with_tables(page.read_text())
    fresh_resource = fielddocs.with_docstrings(resource.read_text())
    page.write_text(fresh_page.replace("| `vcpu` |", "| `vcpus` |"))
    attribute = '    vcpu: Input[int | str]\n    """'
    resource.write_text(fresh_resource.replace(attribute, attribute + "Stale. "))
    assert (page.read_text(), resource.read_text()) != (fresh_page, fresh_resource)
    assert fielddocs.main(["--check", "--root", str(tmp_path)]) == 1
    assert fielddocs.main(["--root", str(tmp_path)]) == 0
    assert page.read_text() == fresh_page
    assert resource.read_text() == fresh_resource
    assert fielddocs.main(["--check", "--root", str(tmp_path)]) == 0


def test_every_size_policy_caps_an_integer_input_of_the_table() -> None:
    from pulumi_vigo_vm.policies import SIZE_LIMITS

    integer_inputs = {f.name for f in INPUTS if f.annotation == "int | str"}
    vm_limits = {limit.input for limit in SIZE_LIMITS if limit.resource_type == TYPE_TOKEN}
    assert vm_limits <= integer_inputs
    assert {limit.input for limit in SIZE_LIMITS} - vm_limits == {"size_gib"}  # VigoDisk's
