"""examples/fleet under the engine harness: one artifact, several VMs, clean re-preview."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.artifacts import ArtifactLab
from support.disks import image_info

from pulumi_vigo_vm.testing import EngineHarness

pytestmark = pytest.mark.libvirt

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"


def _fleet(lab: ArtifactLab, **config: str) -> EngineHarness:
    stack = {f"vigo-fleet:{key}": value for key, value in config.items()}
    return EngineHarness(
        FLEET, state_file=lab.root / "fleet.json", config={**lab.provider_config(), **stack}
    )


def test_fleet_example_runs_every_vm_on_one_artifact_then_previews_unchanged_and_destroys(
    rlab: ArtifactLab,
) -> None:
    aid = rlab.push(rlab.image("base.qcow2"), "fleet-base:stable")
    sizes = {"memory_mib": "96", "vcpu": "1", "disk_size_gib": "1"}
    fleet = _fleet(
        rlab,
        artifact="fleet-base:stable",
        count="3",
        name_prefix=rlab.prefix,
        data_disk_gib="1",
        shutdown_timeout_s="5",  # the base boots no OS: no guest answers the ACPI button
        **sizes,
    )

    result = fleet.up()

    names = [rlab.name(str(n)) for n in (1, 2, 3)]
    disks = [f"{name}-data" for name in names]
    assert result.ops() == dict.fromkeys(names + disks, "create")
    assert result.outputs["artifact_id"] == aid
    blob = str(rlab.materialised(aid, "fleet-base", "stable"))
    for n, name in enumerate(names, start=1):
        out = result.outputs[name]
        assert out["name"] == name
        assert out["observed_state"] == "running"
        assert rlab.power(str(n)) == "running"
        domain = rlab.domain(str(n))
        assert domain is not None
        assert out["uuid"] == domain.UUIDString()
        assert out["overlay_path"] == str(rlab.overlay(str(n)))
        info = image_info(rlab.overlay(str(n)))
        assert info["backing-filename"] == blob
        assert info["virtual-size"] == 1024**3
        assert len(rlab.seeds(str(n))) == 1
        [data] = out["data_disks"]
        assert data["serial"] == "data"
        assert data["path"] == str(rlab.images_dir / "disks" / f"{name}-data.qcow2")
    assert len({p.name for n in (1, 2, 3) for p in rlab.seeds(str(n))}) == 3, "same user-data"
    assert rlab.artifact_files() == [Path(blob), Path(blob + ".sha256")]

    assert fleet.preview().counts() == {"same": 6}

    fleet.destroy()

    assert [rlab.power(str(n)) for n in (1, 2, 3)] == ["absent"] * 3
    assert [p for p in rlab.leftovers() if p.name != "disks"] == []
    assert list((rlab.images_dir / "disks").iterdir()) == [], "each VM's data disk is gone"
    assert Path(blob).exists(), "the shared base must survive destroy"
