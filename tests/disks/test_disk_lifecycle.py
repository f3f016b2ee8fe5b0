"""VigoDisk through the engine harness against a real libvirtd and qemu-img (fleet spec §3):
create, no-op, growth stopped and running with the bytes kept, refusals before anything is
touched, delete refused while in use, foreign files, retain_on_delete and adoption."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.disks import SPELLINGS, another_name, image_info

from pulumi_vigo_vm.common.claimtext import compose
from pulumi_vigo_vm.testing import EngineHarness
from pulumi_vigo_vm.testing.errors import CheckFailedError, ProviderError

from .disklab import GIB, DiskLab, has_pattern, write_pattern

pytestmark = pytest.mark.libvirt


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.transport
def test_create_makes_an_empty_private_disk_with_its_claim_and_a_second_up_is_a_no_op(
    disks: DiskLab, fmt: str
) -> None:
    disks.disk("d", size_gib=2, format=fmt)

    assert disks.up().ops() == {"d": "create"}

    path = disks.path("d", fmt)
    info = image_info(path)
    assert info["format"] == fmt and info["virtual-size"] == 2 * GIB
    assert "backing-filename" not in info
    assert path.stat().st_mode & 0o777 == 0o600
    claim = path.with_name(path.name + ".claim")
    assert "urn:pulumi:dev::vigo-disks::pulumi-python:dynamic/vigo:VigoDisk::d" in claim.read_text()
    assert claim.stat().st_mode & 0o777 == 0o600
    outputs = disks.outputs("d")
    assert outputs["path"] == str(path)
    assert outputs["virtual_size_bytes"] == 2 * GIB
    assert outputs["attached_to"] == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, claim.name]

    assert disks.up().ops() == {"d": "same"}


@pytest.mark.transport
def test_growth_of_a_stopped_disk_keeps_its_bytes(disks: DiskLab) -> None:
    disks.disk("d", size_gib=1)
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")
    disks.foreign_domain("vm", [(path, "qcow2")])  # defined, not running: qemu-img grows it

    disks.disk("d", size_gib=3)
    assert disks.up().ops() == {"d": "update"}

    assert image_info(path)["virtual-size"] == 3 * GIB
    assert has_pattern(path, "qcow2")
    assert disks.outputs("d")["virtual_size_bytes"] == 3 * GIB
    assert disks.outputs("d")["attached_to"] == [disks.lab.name("vm")]


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.transport
def test_growth_while_a_running_domain_uses_it_goes_through_that_qemu(
    disks: DiskLab, fmt: str
) -> None:
    disks.disk("d", size_gib=1, format=fmt)
    disks.up()
    path = disks.path("d", fmt)
    write_pattern(path, fmt)
    domain = disks.foreign_domain("vm", [(path, fmt)], running=True)

    disks.disk("d", size_gib=2, format=fmt)
    assert disks.up().ops() == {"d": "update"}

    assert image_info(path)["virtual-size"] == 2 * GIB
    assert has_pattern(path, fmt, running=True)
    assert domain.blockInfo("vdb")[0] == 2 * GIB  # the guest's qemu sees the new size
    assert disks.outputs("d")["attached_to"] == [disks.lab.name("vm")]


@pytest.mark.transport
def test_growth_goes_through_the_running_domain_that_holds_the_disk_by_another_name(
    disks: DiskLab,
) -> None:
    disks.disk("d", size_gib=1)
    disks.up()
    path = disks.path("d")
    domain = disks.foreign_domain(
        "vm", [(another_name(disks.lab.root, path, "symlink"), "qcow2")], running=True
    )

    disks.disk("d", size_gib=2)
    assert disks.up().ops() == {"d": "update"}

    assert domain.blockInfo("vdb")[0] == 2 * GIB  # the guest's qemu sees the new size


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"size_gib": 1}, "size_gib"),
        ({"name": "renamed"}, "name"),
        ({"format": "raw"}, "format"),
    ],
)
def test_a_shrink_rename_or_format_change_is_refused_at_preview_with_nothing_touched(
    disks: DiskLab, change: dict[str, object], prop: str
) -> None:
    disks.disk("d", size_gib=2)
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")
    before = {p.name: p.stat().st_mtime_ns for p in path.parent.iterdir()}

    disks.disk("d", **{"size_gib": 2, **change})
    with pytest.raises(CheckFailedError) as caught:
        disks.harness().preview()

    (failure,) = caught.value.failures
    assert failure.property == prop
    assert "Create a new" in failure.reason and "copy the data" in failure.reason
    assert {p.name: p.stat().st_mtime_ns for p in path.parent.iterdir()} == before
    assert has_pattern(path, "qcow2")
    with pytest.raises(CheckFailedError):
        disks.up()
    assert image_info(path)["virtual-size"] == 2 * GIB


@pytest.mark.transport
def test_delete_is_refused_while_a_foreign_domain_uses_the_disk_naming_it(
    disks: DiskLab,
) -> None:
    disks.disk("d")
    disks.up()
    path = disks.path("d")
    domain = disks.foreign_domain("vm", [(path, "qcow2")])

    disks.disks.clear()
    with pytest.raises(ProviderError) as caught:
        disks.up()

    assert disks.lab.name("vm") in caught.value.message
    assert "data_disks" in caught.value.message
    assert path.exists() and path.with_name(path.name + ".claim").exists()

    domain.undefine()
    assert disks.up().ops() == {"d": "delete"}
    assert list(path.parent.iterdir()) == []


@pytest.mark.parametrize("how", SPELLINGS)
@pytest.mark.transport
def test_delete_is_refused_while_a_domain_uses_the_disk_by_another_name(
    disks: DiskLab, how: str
) -> None:
    disks.disk("d")
    disks.up()
    path = disks.path("d")
    disks.foreign_domain("vm", [(another_name(disks.lab.root, path, how), "qcow2")])

    disks.disks.clear()
    with pytest.raises(ProviderError) as caught:
        disks.up()

    assert f"{path} is in use by {disks.lab.name('vm')}" in caught.value.message
    assert path.exists() and path.with_name(path.name + ".claim").exists()


def test_a_file_already_at_the_path_that_is_not_ours_is_refused_and_left_intact(
    disks: DiskLab,
) -> None:
    path = disks.path("d")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"somebody's data")
    disks.disk("d")

    with pytest.raises(ProviderError) as caught:
        disks.up()

    assert str(path) in caught.value.message and "never adopted" in caught.value.message
    assert path.read_bytes() == b"somebody's data"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_retained_disk_is_adopted_by_the_same_resource_with_its_bytes(
    disks: DiskLab,
) -> None:
    disks.disk("keep")  # the stack keeps a resource of this package, so its state id
    disks.disk("d", _retain=True)
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")

    del disks.disks["d"]
    assert disks.up().ops() == {"keep": "same", "d": "delete"}
    assert path.exists()  # retained: the provider was not asked

    disks.disk("d")
    assert disks.up().ops() == {"keep": "same", "d": "create"}
    assert has_pattern(path, "qcow2")


def test_a_retained_disk_outliving_its_stacks_state_id_is_handed_over_only_deliberately(
    disks: DiskLab,
) -> None:
    """With no resource of this package left, the stack's VigoStateId goes too; the disk's
    sidecar then names a state that is gone, which no run can tell from another backend's:
    refused, naming the claim to write into the sidecar to take it over."""
    disks.disk("d", _retain=True)
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")
    disks.disks.clear()
    disks.up()

    disks.disk("d")
    with pytest.raises(ProviderError, match="in another Pulumi state") as caught:
        disks.up()
    claim = re.search(r"this resource claims (\S+)\)", caught.value.message)
    assert claim is not None and has_pattern(path, "qcow2")

    path.with_name(path.name + ".claim").write_text(claim.group(1) + "\n")
    assert disks.up().ops() == {"d": "create"}
    assert has_pattern(path, "qcow2")


def test_another_stacks_disk_of_the_same_name_is_never_adopted(disks: DiskLab) -> None:
    disks.disk("d", _retain=True)
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")

    with pytest.raises(ProviderError) as caught:
        disks.harness(stack="prod").up()

    assert "urn:pulumi:dev::" in caught.value.message  # names the other owner
    assert has_pattern(path, "qcow2")


@pytest.mark.transport
def test_refresh_reports_size_and_attachments_and_a_vanished_disk_is_gone(
    disks: DiskLab,
) -> None:
    disks.disk("d")
    disks.up()
    path = disks.path("d")
    disks.foreign_domain("vm", [(path, "qcow2")])

    disks.harness().refresh()
    assert disks.outputs("d")["attached_to"] == [disks.lab.name("vm")]

    path.unlink()
    result = disks.harness().refresh()
    assert result.ops() == {"d": "delete"}


def test_a_renamed_resource_keeps_its_disk_and_the_sidecar_names_the_new_claim(
    disks: DiskLab,
) -> None:
    disks.disk("d")
    disks.up()
    path = disks.path("d")
    write_pattern(path, "qcow2")

    declared = disks.disks.pop("d")
    disks.disks["e"] = {**declared, "_aliases": ["d"]}
    assert disks.up().ops() == {"e": "update"}

    claim = path.with_name(path.name + ".claim").read_text()
    assert claim.rstrip().endswith("VigoDisk::e")
    assert has_pattern(path, "qcow2")
    assert disks.up().ops() == {"e": "same"}


def test_a_killed_creates_leftovers_are_swept_and_its_claim_taken_up(disks: DiskLab) -> None:
    path = disks.path("d")
    path.parent.mkdir(parents=True)
    stale = path.parent / f".{path.name}.0123456789ab.tmp"
    stale.write_bytes(b"half a disk")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = path.parent / f".{path.name}.ba9876543210.tmp"  # another run, still writing
    fresh.write_bytes(b"")
    disks.disk("keep")
    disks.up()  # the stack's state id, checkpointed before the create that is killed
    disks.disk("d")
    owner = "organization/urn:pulumi:dev::vigo-disks::pulumi-python:dynamic/vigo:VigoDisk::d"
    claim = compose(disks.harness().snapshot().state_id(), owner)
    path.with_name(path.name + ".claim").write_text(claim + "\n")  # killed before the move

    assert disks.up().ops() == {"keep": "same", "d": "create"}

    assert not stale.exists() and fresh.exists()
    assert image_info(path)["virtual-size"] == GIB


@pytest.mark.transport
def test_two_stacks_creating_one_disk_at_once_exactly_one_wins_and_the_loser_makes_nothing(
    disks: DiskLab,
) -> None:
    disks.disk("d")
    harnesses = [disks.harness(stack) for stack in ("dev", "prod")]

    def up(harness: EngineHarness) -> str | None:
        try:
            harness.up()
        except ProviderError as exc:
            return exc.message
        return None

    with ThreadPoolExecutor(2) as pool:
        errors = list(pool.map(up, harnesses))

    assert sorted(e is None for e in errors) == [False, True]
    winner = ("dev", "prod")[errors.index(None)]
    path = disks.path("d")
    claim = path.with_name(path.name + ".claim").read_text()
    assert f"urn:pulumi:{winner}::" in claim
    assert image_info(path)["virtual-size"] == GIB
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".claim"]
