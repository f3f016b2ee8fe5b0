"""A real guest boots from its NoCloud seed, and new user-data means a fresh VM.

The first boot (module fixture) runs user-data that sets a hostname, prints markers, the
root filesystem size, the NIC addresses and whether a marker file from an earlier boot
exists to the serial console, writes that marker file, and powers off. The second test
changes the user-data and checks the guest ran it on a fresh overlay with a new seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import GIB, Guest, tail

from pulumi_vigo_vm.testing import RunResult

pytestmark = pytest.mark.slow

MARKER_FILE = "/var/lib/first-boot-marker"


def user_data(tag: str, hostname: str) -> str:
    return f"""#cloud-config
hostname: {hostname}
runcmd:
  - [sh, -c, "echo VIGO-E2E-MARKER={tag}@$(hostname) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-E2E-ROOT-SIZE=$(df -B1 --output=size / | tail -n1) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-E2E-MACS=$(cat /sys/class/net/*/address | paste -sd,) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-E2E-LS=$(ls {MARKER_FILE} 2>&1) > /dev/ttyS0"]
  - [sh, -c, "echo {tag} > {MARKER_FILE} && sync"]
power_state: {{mode: poweroff}}
"""


@dataclass(frozen=True)
class Boot:
    """What one `up` + boot to power-off left behind."""

    result: RunResult
    outputs: dict[str, Any]
    log: str  # this boot's part of the console log
    seconds: float


def boot_to_power_off(guest: Guest, boots_before: int) -> Boot:
    result = guest.up()
    seconds = guest.wait_until_shut_off()
    boots = guest.boots()
    assert len(boots) == boots_before + 1, tail(guest.console())
    return Boot(result, guest.outputs(), boots[-1], seconds)


def one(pattern: str, log: str) -> str:
    found = re.findall(pattern, log)
    assert len(found) == 1, f"{pattern!r} found {found}; console tail:\n{tail(log)}"
    return str(found[0])


def assert_nocloud_seed_used(log: str) -> None:
    assert re.search(r"Datasource DataSourceNoCloud \[seed=/dev/sr0\]", log), tail(log)
    assert "DataSourceNone" not in log, tail(log)


@pytest.fixture(scope="module")
def guest(make_guest: Any) -> Guest:
    guest: Guest = make_guest("e2e/test_cloud_init_boot")
    return guest


@pytest.fixture(scope="module")
def first_boot(guest: Guest) -> Boot:
    guest.declare(user_data("first", "vigo-e2e-first"))
    boot = boot_to_power_off(guest, boots_before=0)
    print(f"first boot to power-off: {boot.seconds:.0f} s")
    return boot


def test_guest_boots_from_nocloud_seed_applies_hostname_and_grows_root(
    guest: Guest, first_boot: Boot
) -> None:
    log = first_boot.log
    assert first_boot.result.ops() == {"vm": "create"}
    assert first_boot.outputs["observed_state"] == "running"  # what `up` left behind
    assert first_boot.outputs["console_log_path"] == (
        f"/var/log/libvirt/qemu/{guest.name}-console.log"
    )

    assert_nocloud_seed_used(log)
    # user-data's hostname wins over meta-data's local-hostname (the vm_name)
    assert one(r"VIGO-E2E-MARKER=(\S+)", log) == "first@vigo-e2e-first"
    root_size = int(one(r"VIGO-E2E-ROOT-SIZE=(\d+)", log))
    assert 0.9 * 3 * GIB < root_size <= 3 * GIB, f"root not grown to ~3 GiB: {root_size}"
    assert first_boot.outputs["mac_address"] in one(r"VIGO-E2E-MACS=(\S+)", log).split(",")
    assert "No such file or directory" in one(r"VIGO-E2E-LS=(.*)", log)
    assert "reboot: Power down" in log, tail(log)


def test_changing_user_data_replaces_the_vm_and_the_guest_runs_it_on_a_fresh_overlay(
    guest: Guest, first_boot: Boot
) -> None:
    old_seed = Path(first_boot.outputs["seed_iso_path"])
    guest.declare(user_data("second", "vigo-e2e-second"))

    second = boot_to_power_off(guest, boots_before=1)
    print(f"second boot to power-off: {second.seconds:.0f} s")

    step = second.result.step("vm")
    assert step.op == "replace", second.result.summary()
    assert "cloud_init_user_data" in step.replaces
    assert step.delete_before_replace
    new_seed = Path(second.outputs["seed_iso_path"])
    assert new_seed != old_seed
    assert guest.seeds() == [new_seed]
    assert not old_seed.exists()

    log = second.log
    assert_nocloud_seed_used(log)
    assert one(r"VIGO-E2E-MARKER=(\S+)", log) == "second@vigo-e2e-second"
    assert "VIGO-E2E-MARKER=first" not in log
    # the first boot's marker file died with the old overlay
    ls = one(r"VIGO-E2E-LS=(.*)", log)
    assert "No such file or directory" in ls, f"{MARKER_FILE} survived the replace: {ls}"
    assert "reboot: Power down" in log, tail(log)
