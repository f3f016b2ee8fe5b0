"""Curator faults seen from a VM: outage, corrupt blob, re-tagged tag, stale pin."""

from __future__ import annotations

import hashlib

import pytest
from support.artifacts import ArtifactLab
from support.disks import image_info
from support.registry import Registry, free_port

from pulumi_vigo_vm.testing import HarnessError

pytestmark = pytest.mark.libvirt


def _assert_nothing_on_the_host(lab: ArtifactLab, *shorts: str) -> None:
    for short in shorts:
        assert lab.domain(short) is None, short
    assert lab.leftovers() == []
    assert lab.artifact_files() == []


def test_registry_down_at_up_fails_naming_the_curator_and_writes_nothing(
    rlab: ArtifactLab,
) -> None:
    rlab.push(rlab.image("base.qcow2"), "base:1.0")
    rlab.vm("a", artifact="base:1.0", cloud_init_user_data="#cloud-config\n")
    rlab.vm("b", artifact="base:1.0", state="running")
    assert rlab.preview().counts() == {"create": 2}
    rlab.curator = f"127.0.0.1:{free_port()}"  # the registry is gone by the time of `up`

    with pytest.raises(HarnessError) as failed:
        rlab.up()

    message = str(failed.value)
    assert f"curator registry http://{rlab.curator} is unreachable" in message
    assert "vigo:curator" in message
    _assert_nothing_on_the_host(rlab, "a", "b")
    assert rlab.harness().snapshot().program_resources() == []


def test_layout_directory_gone_at_up_fails_and_writes_nothing(rlab: ArtifactLab) -> None:
    rlab.curator = str(rlab.root / "curator")
    rlab.push(rlab.image("base.qcow2"), "base:1.0")
    rlab.vm("a", artifact="base:1.0")
    (rlab.root / "curator").rename(rlab.root / "curator.unmounted")

    with pytest.raises(HarnessError) as failed:
        rlab.up()

    assert rlab.curator in str(failed.value)
    _assert_nothing_on_the_host(rlab, "a")


def test_corrupt_blob_in_the_registry_is_refused_and_leaves_no_partial_artifact(
    rlab: ArtifactLab, registry: Registry
) -> None:
    image = rlab.image("base.qcow2")
    rlab.push(image, "base:1.0")
    digest = "sha256:" + hashlib.sha256(image.read_bytes()).hexdigest()
    stored = registry.blob_file(digest)
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    rlab.vm("a", artifact="base:1.0")

    with pytest.raises(HarnessError) as failed:
        rlab.up()

    assert "corrupt" in str(failed.value)
    assert digest in str(failed.value)
    _assert_nothing_on_the_host(rlab, "a")


def test_retagging_replaces_only_the_vms_on_that_tag_and_rebuilds_them_on_the_new_artifact(
    rlab: ArtifactLab,
) -> None:
    old = rlab.push(rlab.image("v1.qcow2"), "base:stable")
    kept = rlab.push(rlab.image("other.qcow2"), "base:1.0")
    rlab.vm("a", artifact="base:stable", state="running")
    rlab.vm("b", artifact="base:stable")
    rlab.vm("c", artifact="base:1.0")
    rlab.up()
    uuid_a = rlab.outputs("a")["uuid"]

    new = rlab.push(rlab.image("v2.qcow2"), "base:stable")
    assert new != old
    preview = rlab.preview()

    assert preview.ops() == {"a": "replace", "b": "replace", "c": "same"}
    for short in ("a", "b"):
        step = preview.step(short)
        assert step.replaces == ("artifact",)
        assert step.delete_before_replace
        assert image_info(rlab.overlay(short))["backing-filename"] == str(
            rlab.materialised(old, "base", "stable")
        ), "preview touched the host"
    assert not rlab.materialised(new, "base", "stable").exists(), "preview fetched the artifact"

    result = rlab.up()

    assert result.ops() == {"a": "replace", "b": "replace", "c": "same"}
    for short in ("a", "b"):
        assert image_info(rlab.overlay(short))["backing-filename"] == str(
            rlab.materialised(new, "base", "stable")
        )
        assert rlab.outputs(short)["artifact_id"] == new
    assert rlab.power("a") == "running"
    assert rlab.outputs("a")["uuid"] != uuid_a
    assert image_info(rlab.overlay("c"))["backing-filename"] == str(
        rlab.materialised(kept, "base", "1.0")
    )
    assert rlab.materialised(old, "base", "stable").exists(), "an old base was deleted"
    assert rlab.up().counts() == {"same": 3}


def test_a_pin_that_no_longer_matches_the_tag_fails_clearly_and_leaves_the_vm_alone(
    rlab: ArtifactLab,
) -> None:
    old = rlab.push(rlab.image("v1.qcow2"), "base:1.0")
    rlab.vm("a", artifact=f"{old[:16]}/base@1.0")
    rlab.up()
    new = rlab.push(rlab.image("v2.qcow2"), "base:1.0")

    for verb in ("preview", "up"):
        with pytest.raises(HarnessError) as failed:
            getattr(rlab.harness(), verb)()
        message = str(failed.value)
        assert f"pinned id {old[:16]} does not match" in message, verb
        assert new in message, verb

    assert image_info(rlab.overlay("a"))["backing-filename"] == str(
        rlab.materialised(old, "base", "1.0")
    )
    assert not rlab.materialised(new, "base", "1.0").exists()
    assert rlab.domain("a") is not None


def test_a_new_vm_pinned_to_an_id_the_tag_never_had_is_refused_before_anything_is_written(
    rlab: ArtifactLab,
) -> None:
    rlab.push(rlab.image("v1.qcow2"), "base:1.0")
    rlab.vm("a", artifact="0123abcd/base@1.0")

    with pytest.raises(HarnessError) as failed:
        rlab.up()

    assert "pinned id 0123abcd does not match" in str(failed.value)
    _assert_nothing_on_the_host(rlab, "a")


def test_a_registry_outage_does_not_block_previewing_other_changes(rlab: ArtifactLab) -> None:
    rlab.push(rlab.image("base.qcow2"), "base:1.0")
    rlab.vm("a", artifact="base:1.0", state="defined")
    rlab.up()
    base = rlab.artifact_files()
    rlab.curator = f"127.0.0.1:{free_port()}"  # the registry goes away

    rlab.vm("a", artifact="base:1.0", state="defined", memory_mib=96)
    step = rlab.preview().step("a")

    assert (step.op, list(step.replaces)) == ("update", [])
    assert rlab.artifact_files() == base
