"""Real Debian guests booted under TCG by the provider, checked from their serial console.

Two stacks, one VM each, boot side by side (a boot takes minutes under TCG, so the
first boots overlap):

- ``replaced``: user-data sets a hostname and prints markers, the root filesystem size,
  the NIC addresses and whether a marker file from an earlier boot exists, writes that
  file and powers off. Its user-data is then changed: the VM must be replaced and the
  guest run the new user-data on a fresh overlay.
- ``kept``: runcmd (once per instance) writes a file and powers off; bootcmd (every boot)
  prints that file. The stack goes to ``state: stopped`` and back to ``running`` with the
  user-data unchanged, so the same VM boots again and must still have the file.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.testing import RunResult

from .support import GIB, Guest, console_log_path, tail

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

MARKER_FILE = "/var/lib/first-boot-marker"
KEEP_FILE = "/var/lib/vigo-e2e-keep"
KEEP_TOKEN = secrets.token_hex(8)


def marker_user_data(tag: str, hostname: str) -> str:
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


def keep_user_data(token: str) -> str:
    return f"""#cloud-config
bootcmd:
  - [sh, -c, "echo VIGO-E2E-KEEP=$(cat {KEEP_FILE} 2>/dev/null || echo missing) > /dev/ttyS0"]
runcmd:
  - [sh, -c, "echo {token} > {KEEP_FILE} && sync"]
  - [sh, -c, "echo VIGO-E2E-WROTE=$(cat {KEEP_FILE}) > /dev/ttyS0"]
power_state: {{mode: poweroff}}
"""


@dataclass(frozen=True)
class Boot:
    """What one `up` and the boot to power-off that followed left behind."""

    result: RunResult
    outputs: dict[str, Any]
    log: str  # this boot's part of the console log
    seconds: float


def finish_boot(guest: Guest, result: RunResult, boot: int) -> Boot:
    """Wait until the guest powered itself off after boot number ``boot``."""
    seconds = guest.wait_until_shut_off()
    boots = guest.boots()
    assert len(boots) == boot, tail(guest.console())
    print(f"{guest.name}: boot {boot} powered off after {seconds:.0f} s")
    return Boot(result, guest.outputs(), boots[-1], seconds)


def one(pattern: str, log: str) -> str:
    found = re.findall(pattern, log)
    assert len(found) == 1, f"{pattern!r} found {found}; console tail:\n{tail(log)}"
    return str(found[0])


def assert_nocloud_seed_used(log: str) -> None:
    assert re.search(r"Datasource DataSourceNoCloud \[seed=/dev/sr0\]", log), tail(log)
    assert "DataSourceNone" not in log, tail(log)


@pytest.fixture(scope="module")
def guests(make_guest: Any) -> dict[str, Guest]:
    return {"replaced": make_guest("e2e/replaced"), "kept": make_guest("e2e/kept")}


@pytest.fixture(scope="module")
def first_boots(guests: dict[str, Guest]) -> dict[str, Boot]:
    """Create both VMs (each `up` returns once its domain runs), then wait for both."""
    guests["replaced"].declare(marker_user_data("first", "vigo-e2e-first"))
    guests["kept"].declare(keep_user_data(KEEP_TOKEN), state="running")
    results = {key: guest.up() for key, guest in guests.items()}
    return {key: finish_boot(guests[key], results[key], 1) for key in guests}


def test_guest_boots_from_nocloud_seed_applies_hostname_and_grows_root(
    guests: dict[str, Guest], first_boots: dict[str, Boot]
) -> None:
    guest, boot = guests["replaced"], first_boots["replaced"]
    log = boot.log
    assert boot.result.ops() == {"vm": "create"}
    assert boot.outputs["observed_state"] == "running"  # what `up` left behind
    assert boot.outputs["console_log_path"] == str(console_log_path(guest.name))

    assert_nocloud_seed_used(log)
    # user-data's hostname wins over meta-data's local-hostname (the vm_name)
    assert one(r"VIGO-E2E-MARKER=(\S+)", log) == "first@vigo-e2e-first"
    root_size = int(one(r"VIGO-E2E-ROOT-SIZE=(\d+)", log))
    assert 0.9 * 3 * GIB < root_size <= 3 * GIB, f"root not grown to ~3 GiB: {root_size}"
    assert boot.outputs["mac_address"] in one(r"VIGO-E2E-MACS=(\S+)", log).split(",")
    assert "No such file or directory" in one(r"VIGO-E2E-LS=(.*)", log)
    assert "reboot: Power down" in log, tail(log)


def test_changing_user_data_replaces_the_vm_and_the_guest_runs_it_on_a_fresh_overlay(
    guests: dict[str, Guest], first_boots: dict[str, Boot]
) -> None:
    guest, first = guests["replaced"], first_boots["replaced"]
    old_seed = Path(first.outputs["seed_iso_path"])
    guest.declare(marker_user_data("second", "vigo-e2e-second"))

    # The old VM's console log went with it: the new VM's log holds its first boot only.
    second = finish_boot(guest, guest.up(), 1)

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
    # the first boot's marker file went with the old overlay
    ls = one(r"VIGO-E2E-LS=(.*)", log)
    assert "No such file or directory" in ls, f"{MARKER_FILE} survived the replace: {ls}"
    assert "reboot: Power down" in log, tail(log)


def test_stop_then_start_keeps_the_file_the_guest_wrote_on_first_boot(
    guests: dict[str, Guest], first_boots: dict[str, Boot]
) -> None:
    guest, first = guests["kept"], first_boots["kept"]
    assert first.result.ops() == {"vm": "create"}
    assert "VIGO-E2E-KEEP=missing" in first.log, tail(first.log)
    assert f"VIGO-E2E-WROTE={KEEP_TOKEN}" in first.log, tail(first.log)
    assert "reboot: Power down" in first.log, tail(first.log)

    guest.declare(keep_user_data(KEEP_TOKEN), state="stopped")
    assert guest.up().ops() == {"vm": "update"}
    assert guest.power() == "stopped"
    assert guest.outputs()["observed_state"] == "stopped"

    guest.declare(keep_user_data(KEEP_TOKEN), state="running")
    assert guest.up().ops() == {"vm": "update"}
    outputs = guest.outputs()
    assert outputs["observed_state"] == "running"
    assert (outputs["uuid"], outputs["overlay_path"], outputs["seed_iso_path"]) == (
        first.outputs["uuid"],
        first.outputs["overlay_path"],
        first.outputs["seed_iso_path"],
    )

    kept = guest.wait_for_boot_log(2, r"VIGO-E2E-KEEP=(\S+)").group(1)
    assert kept == KEEP_TOKEN, f"the file written on the first boot is gone: {kept}"
    # the same instance (seed unchanged): cloud-init must not provision it again
    guest.wait_for_boot_log(2, r"Cloud-init v\. \S+ finished at")
    assert "VIGO-E2E-WROTE" not in guest.boots()[1], tail(guest.console())

    # a graceful stop: the guest powers itself down on the ACPI request
    guest.declare(keep_user_data(KEEP_TOKEN), state="stopped")
    assert guest.up().ops() == {"vm": "update"}
    assert guest.power() == "stopped"
    assert "reboot: Power down" in guest.boots()[1], tail(guest.console())
