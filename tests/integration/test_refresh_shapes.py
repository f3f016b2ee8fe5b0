"""What ``refresh`` and ``preview`` report against a real libvirtd when nothing changed, and
what they name when something did: recorded and read outputs have one shape, and a drift
names the input whose live value differs."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import CheckFailedError


def test_refresh_after_create_reports_no_change_for_a_vm_with_nics_and_its_disk(lab: Lab) -> None:
    lab.disk("data")
    lab.vm(
        "a",
        state="defined",
        nics=[{"bridge": lab.bridge}, {"bridge": lab.bridge, "model": "e1000e"}],
        data_disks=[{"disk": "data"}],
    )
    lab.up()

    result = lab.harness().refresh()

    assert {s.name: (s.op, s.diffs) for s in result.steps} == {
        "a": ("read", ()),
        "data": ("read", ()),
    }, result.summary()
    assert lab.harness().preview().counts() == {"same": 2}


def test_a_drifted_definition_previews_as_an_update_naming_the_input(lab: Lab) -> None:
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}])
    lab.up()
    subprocess.run(
        ["virsh", "-q", "-c", "qemu:///system", "setmaxmem", lab.name("a"), "80M", "--config"],
        check=True,
        timeout=60,
    )

    assert lab.harness().refresh().step("a").diffs == ("memory_mib",)
    step = lab.preview().step("a")

    assert (step.op, step.replaces, step.diffs) == ("update", (), ("memory_mib",))
    assert lab.up().step("a").diffs == ("memory_mib",)
    assert lab.harness().preview().counts() == {"same": 1}


@pytest.mark.parametrize(
    ("nic_args", "prop", "fragment"),
    [
        ({"nics": [{"bridge": "BRIDGE"}, {"network": "results-nonet"}]}, "nics", "[1].network"),
        (
            {"nics": [{"bridge": "resultsnobr0"}]},
            "nics",
            "[0].bridge 'resultsnobr0' is not a bridge",
        ),
        ({"network_bridge": "resultsnobr0"}, "network_bridge", "'resultsnobr0' is not a bridge"),
        ({"network": "results-nonet"}, "network", "no libvirt network of that name"),
    ],
)
def test_a_nic_on_a_missing_bridge_or_network_fails_preview_naming_it(
    lab: Lab, nic_args: dict[str, Any], prop: str, fragment: str
) -> None:
    nic_args = json.loads(json.dumps(nic_args).replace("BRIDGE", lab.bridge))
    lab.vm("a", state="defined", **nic_args)

    with pytest.raises(CheckFailedError) as caught:
        lab.preview()

    (failure,) = caught.value.failures
    assert failure.property == prop and fragment in failure.reason, failure
    with pytest.raises(CheckFailedError):
        lab.up()
    assert lab.domains() == set() and lab.files() == set()


def test_an_existing_vm_gaining_a_nic_on_a_missing_network_fails_preview(lab: Lab) -> None:
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}])
    lab.up()
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}, {"network": "results-nonet"}])

    with pytest.raises(CheckFailedError, match=r"\[1\]\.network 'results-nonet'"):
        lab.preview()
