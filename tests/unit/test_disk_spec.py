"""VigoDisk's pure core: input validation, the changes refused because they would lose the
data, and the plan decided from what the host holds (fleet spec §3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.disk.plan import DiskFacts, DiskPlan, Step, plan_converge
from pulumi_vigo_vm.disk.spec import (
    DiskFormat,
    DiskSpec,
    check_inputs,
    parse_disk,
    refused_changes,
)
from pulumi_vigo_vm.errors import ImageError, InputError, InUseError, NotOwnedError
from pulumi_vigo_vm.hostfile.claim import FileOwner
from pulumi_vigo_vm.spec import ProviderDefaults

CLAIM = "org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoDisk::data"
DEFAULTS = ProviderDefaults(uri="qemu+ssh://root@hv1/system", images_dir="/srv/images")
GIB = 1024**3


def _inputs(**props: Any) -> dict[str, Any]:
    return {"name": "pg01-data", "size_gib": 50, "claim": CLAIM, **props}


def test_defaults_come_from_stack_config_and_the_path_from_name_and_format() -> None:
    spec = parse_disk(_inputs(size_gib=50.0), DEFAULTS)
    assert spec == DiskSpec("pg01-data", 50, DiskFormat.QCOW2, DEFAULTS.uri, "/srv/images", CLAIM)
    assert spec.path == "/srv/images/disks/pg01-data.qcow2"
    raw = parse_disk(_inputs(format="raw", size_gib="2"), DEFAULTS)
    assert raw.path == "/srv/images/disks/pg01-data.raw" and raw.size_bytes == 2 * GIB


def test_every_bad_input_is_reported_at_once() -> None:
    _, faults = check_inputs(
        {"name": "../etc", "size_gib": 0, "format": "vmdk", "images_dir": "rel", "uri": "x"},
        DEFAULTS,
    )
    assert {f.property for f in faults} == {
        "name",
        "size_gib",
        "format",
        "images_dir",
        "uri",
        "claim",
    }
    with pytest.raises(InputError):
        parse_disk({"name": "Upper", "size_gib": 1, "claim": CLAIM}, DEFAULTS)


@given(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True))
def test_every_name_of_the_grammar_is_accepted_and_names_its_own_file(name: str) -> None:
    spec = parse_disk(_inputs(name=name), DEFAULTS)
    assert spec.path == f"/srv/images/disks/{name}.qcow2"


def test_the_claim_is_never_given_by_users() -> None:
    _, faults = check_inputs(_inputs(claim="mine"), DEFAULTS)
    assert [f.property for f in faults] == ["claim"]
    assert "set by VigoDisk" in faults[0].reason


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"name": "other"}, "name"),
        ({"format": "raw"}, "format"),
        ({"uri": "qemu:///system"}, "uri"),
        ({"images_dir": "/elsewhere"}, "images_dir"),
        ({"size_gib": 49}, "size_gib"),
    ],
)
def test_what_would_lose_the_data_is_refused_naming_the_input_and_the_way_out(
    change: dict[str, Any], prop: str
) -> None:
    old, _ = check_inputs(_inputs(), DEFAULTS)
    new, _ = check_inputs(_inputs(**change), DEFAULTS)
    (fault,) = refused_changes(old, new)
    assert fault.property == prop
    assert "Create a new" in fault.reason and "copy the data over" in fault.reason


def test_growth_and_a_new_claim_are_no_refusals_and_unknowns_are_not_judged() -> None:
    old, _ = check_inputs(_inputs(), DEFAULTS)
    assert refused_changes(old, check_inputs(_inputs(size_gib=51), DEFAULTS)[0]) == []
    assert refused_changes(old, {**old, "claim": CLAIM + "2"}) == []
    unknown = type("Unknown", (), {})()
    assert refused_changes(old, {**old, "name": unknown, "size_gib": unknown}) == []


SPEC = parse_disk(_inputs(size_gib=2), DEFAULTS)


def _facts(owner: FileOwner, size: int | None = None, recorded: str | None = None) -> DiskFacts:
    return DiskFacts(owner, recorded, size)


def test_a_free_path_is_created_and_our_file_of_the_right_size_left_alone() -> None:
    assert plan_converge(SPEC, _facts(FileOwner.FREE), ()) == DiskPlan(Step.CREATE)
    assert plan_converge(SPEC, _facts(FileOwner.OURS, 2 * GIB, CLAIM), ()) == DiskPlan(None)


def test_a_smaller_disk_of_ours_grows_through_the_running_domain_else_offline() -> None:
    facts = _facts(FileOwner.OURS, GIB, CLAIM)
    assert plan_converge(SPEC, facts, ("vm1",)) == DiskPlan(Step.GROW_LIVE, "vm1")
    assert plan_converge(SPEC, facts, ()) == DiskPlan(Step.GROW_OFFLINE)
    with pytest.raises(InUseError, match="vm1, vm2"):
        plan_converge(SPEC, facts, ("vm2", "vm1"))


def test_a_larger_disk_is_never_shrunk() -> None:
    with pytest.raises(ImageError, match="never shrinks"):
        plan_converge(SPEC, _facts(FileOwner.OURS, 3 * GIB, CLAIM), ())


@pytest.mark.parametrize("owner", [FileOwner.FOREIGN, FileOwner.CLAIMED])
def test_someone_elses_file_or_sidecar_is_refused_naming_it(owner: FileOwner) -> None:
    with pytest.raises(NotOwnedError, match="other-owner"):
        plan_converge(SPEC, _facts(owner, GIB, "other-owner"), ())
