"""Stopping and starting a real guest keeps what it wrote to its disk.

The first boot writes a file (runcmd, once per instance) and powers off. Then the stack
goes to ``state: stopped`` and back to ``running`` with the user-data unchanged, so the
same VM boots again; ``bootcmd`` (every boot) prints the file's content to the console.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from conftest import Guest, tail

pytestmark = pytest.mark.slow

KEEP_FILE = "/var/lib/vigo-e2e-keep"


def user_data(token: str) -> str:
    return f"""#cloud-config
bootcmd:
  - [sh, -c, "echo VIGO-E2E-KEEP=$(cat {KEEP_FILE} 2>/dev/null || echo missing) > /dev/ttyS0"]
runcmd:
  - [sh, -c, "echo {token} > {KEEP_FILE} && sync"]
  - [sh, -c, "echo VIGO-E2E-WROTE=$(cat {KEEP_FILE}) > /dev/ttyS0"]
power_state: {{mode: poweroff}}
"""


def test_stop_then_start_keeps_the_file_the_guest_wrote_on_first_boot(make_guest: Any) -> None:
    guest: Guest = make_guest("e2e/test_stop_start")
    token = secrets.token_hex(8)
    guest.declare(user_data(token), state="running")
    assert guest.up().ops() == {"vm": "create"}
    first_seconds = guest.wait_until_shut_off()
    print(f"first boot to power-off: {first_seconds:.0f} s")
    (first,) = guest.boots()
    assert "VIGO-E2E-KEEP=missing" in first, tail(first)
    assert f"VIGO-E2E-WROTE={token}" in first, tail(first)
    assert "reboot: Power down" in first, tail(first)
    uuid, overlay = guest.outputs()["uuid"], guest.outputs()["overlay_path"]

    guest.declare(user_data(token), state="stopped")
    assert guest.up().ops() == {"vm": "update"}
    assert guest.power() == "stopped"
    assert guest.outputs()["observed_state"] == "stopped"

    guest.declare(user_data(token), state="running")
    assert guest.up().ops() == {"vm": "update"}
    assert guest.outputs()["observed_state"] == "running"
    assert (guest.outputs()["uuid"], guest.outputs()["overlay_path"]) == (uuid, overlay)

    kept = guest.wait_for_boot_log(2, r"VIGO-E2E-KEEP=(\S+)").group(1)
    assert kept == token, f"the file written on the first boot is gone: {kept}"
    # same instance (seed unchanged): cloud-init must not provision it again
    guest.wait_for_boot_log(2, r"Cloud-init v\. \S+ finished at")
    second = guest.boots()[1]
    assert "VIGO-E2E-WROTE" not in second, tail(second)

    # a graceful stop: the guest itself powers down on the ACPI request
    guest.declare(user_data(token), state="stopped")
    assert guest.up().ops() == {"vm": "update"}
    assert guest.power() == "stopped"
    assert "reboot: Power down" in guest.boots()[1], tail(guest.console())
