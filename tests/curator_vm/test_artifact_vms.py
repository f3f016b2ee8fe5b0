"""VMs whose base is a curator artifact, through the engine harness, on a real libvirtd."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.artifacts import ArtifactLab
from support.disks import image_info

pytestmark = pytest.mark.libvirt


def _backing(lab: ArtifactLab, short: str) -> str:
    return str(image_info(lab.overlay(short))["backing-filename"])


def test_every_reference_form_is_backed_by_one_shared_materialised_artifact(
    alab: ArtifactLab,
) -> None:
    aid = alab.push(alab.image("base.qcow2"), "base:1.0")
    alab.vm("tag", artifact="base:1.0", state="running")
    alab.vm("ver", artifact="base@1.0")
    alab.vm("pud", artifact=f"{alab.puddle}/base:1.0")
    alab.vm("pin", artifact=f"{aid[:12]}/base@1.0")

    result = alab.up()

    blob = alab.materialised(aid, "base", "1.0")
    assert result.counts() == {"create": 4}
    for short in alab.vms:
        assert _backing(alab, short) == str(blob), short
        outs = alab.outputs(short)
        assert outs["artifact_id"] == aid
        assert outs["base_path"] == str(blob)
        assert outs["base_format"] == "qcow2"
    assert alab.power("tag") == "running"
    assert result.outputs["tag"]["observed_state"] == "running"
    assert alab.artifact_files() == [blob, Path(f"{blob}.sha256")]
    assert blob.stat().st_mode & 0o777 == 0o444
    fetched = (blob.stat().st_ino, blob.stat().st_mtime_ns)

    assert alab.up().counts() == {"same": 4}
    alab.vm("late", artifact="base:1.0")
    assert alab.up().ops()["late"] == "create"
    assert _backing(alab, "late") == str(blob)
    assert (blob.stat().st_ino, blob.stat().st_mtime_ns) == fetched, "the base was fetched again"
    assert alab.artifact_files() == [blob, Path(f"{blob}.sha256")]
