"""An artifact carrying several platforms backs each VM with the blob of the domain's arch
(fleet spec §4): the host's own by default, ``linux-arm64`` for an emulated aarch64 VM."""

from __future__ import annotations

import pytest
from support.artifacts import ArtifactLab
from support.disks import image_info

pytestmark = pytest.mark.libvirt


def test_each_vm_gets_the_blob_of_its_domain_s_arch(rlab: ArtifactLab) -> None:
    rlab.push(rlab.image("amd64.qcow2"), "multi:1.0", "linux/amd64")
    aid = rlab.push(rlab.image("arm64.qcow2"), "multi:1.0", "linux/arm64")
    rlab.vm("own", artifact="multi:1.0")
    rlab.vm("arm", artifact="multi:1.0", arch="aarch64")

    assert rlab.up().counts() == {"create": 2}

    version = rlab.artifacts_dir / aid / "multi" / "1.0"
    for short, blob in (("own", version / "linux-amd64"), ("arm", version / "linux-arm64")):
        assert rlab.outputs(short)["base_path"] == str(blob), short
        assert image_info(rlab.overlay(short))["backing-filename"] == str(blob), short
    assert rlab.outputs("arm")["arch"] == "aarch64"
    assert rlab.up().counts() == {"same": 2}
