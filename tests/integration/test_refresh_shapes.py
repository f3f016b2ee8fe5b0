"""What ``refresh`` and ``preview`` report against a real libvirtd when nothing changed, and
what they name when something did: recorded and read outputs have one shape, and a drift
names the input whose live value differs."""

from __future__ import annotations

import subprocess

import pytest
from support.lab import Lab

pytestmark = pytest.mark.libvirt


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

    assert {s.name: (s.op, s.diffs) for s in result.program_steps()} == {
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

    # setmaxmem moves <memory>, the maximum the guest boots able to take (its current,
    # <currentMemory>, stays): the input that states it is max_memory_mib
    assert lab.harness().refresh().step("a").diffs == ("max_memory_mib",)
    step = lab.preview().step("a")

    assert (step.op, step.replaces, step.diffs) == ("update", (), ("max_memory_mib",))
    assert lab.up().step("a").diffs == ("max_memory_mib",)
    assert lab.harness().preview().counts() == {"same": 1}
