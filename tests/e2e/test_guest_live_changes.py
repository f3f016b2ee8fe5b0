"""One booted guest proves changes without downtime (operations.md §3): a data disk and a
NIC hot-plugged and unplugged, two more vCPUs and more memory, all in the boot it started
with (same qemu process, same domain ID), then a ``max_vcpu`` change deferred by
``restart_on_change=False`` until a stop and start. Nothing connects to the guest: a loop
in it prints what it sees (online CPUs, memory, disks by serial, NIC MACs) on its console
whenever that changes, and the test reads the console."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import libvirt
import pytest
from support.disks import qemu_img

from .support import Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

MAC = "52:54:00:5e:00:77"
# The guest onlines hot-added CPUs itself (Debian ships no udev rule for it) and reports.
WATCH = r"""#!/bin/sh
last=""
while true; do
  for c in /sys/devices/system/cpu/cpu*/online; do
    [ "$(cat "$c")" = 1 ] || echo 1 > "$c" 2>/dev/null
  done
  disks=$(ls /dev/disk/by-id/ 2>/dev/null | grep '^virtio-' | sort | xargs)
  macs=$(cat /sys/class/net/*/address | grep -v '^00:00:00' | sort | xargs)
  mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
  now="cpus=$(nproc) mem=$mem disks=[$disks] macs=[$macs]"
  if [ "$now" != "$last" ]; then echo "VIGO-LIVE $now" > /dev/ttyS0; last="$now"; fi
  sleep 1
done
"""
USER_DATA = f"""#cloud-config
write_files:
  - path: /usr/local/bin/vigo-watch
    permissions: "0755"
    content: |
{chr(10).join("      " + line for line in WATCH.splitlines())}
runcmd:
  - [sh, -c, "modprobe virtio_balloon; setsid /usr/local/bin/vigo-watch >/dev/null 2>&1 &"]
"""


def _live_lines(guest: Guest) -> list[str]:
    boots = guest.boots()
    return re.findall(r"VIGO-LIVE .*", boots[-1]) if boots else []


def _wait_for(guest: Guest, pattern: str) -> str:
    """The guest's latest report, once one in its current boot matches ``pattern``."""
    boot = max(len(guest.boots()), 1)  # none yet: the first, still starting
    guest.wait_for_boot_log(boot, pattern)
    return _live_lines(guest)[-1]


def _memory_kib(line: str) -> int:
    return int(re.search(r"mem=(\d+)", line).group(1))  # type: ignore[union-attr]


def _identity(guest: Guest) -> tuple[int, int]:
    """The qemu process and the domain ID: both change with any restart."""
    pid = int(Path(f"/run/libvirt/qemu/{guest.name}.pid").read_text().strip())
    domain = guest.lab.domain(guest.short)
    assert domain is not None
    return pid, domain.ID()


def test_one_guest_takes_disks_nics_vcpus_and_memory_live_and_defers_a_restart(
    make_guest: Any,
) -> None:
    guest: Guest = make_guest("e2e/live")
    data = Path(guest.lab.root) / "hot.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "64M")
    data.chmod(0o666)  # qemu runs as libvirt-qemu
    common: dict[str, Any] = {"max_vcpu": 3, "max_memory_mib": 1024, "shutdown_timeout_s": 120}
    first_nic = {"bridge": guest.lab.bridge}
    guest.declare(
        USER_DATA, vcpu=1, memory_mib=640, network_bridge=None, nics=[first_nic], **common
    )
    guest.up()
    before = _wait_for(guest, r"VIGO-LIVE cpus=1 ")
    identity = _identity(guest)

    plugged = {
        "nics": [first_nic, {"bridge": guest.lab.bridge, "mac": MAC}],
        "data_disks": [{"path": str(data), "serial": "hotdisk"}],
    }
    guest.declare(USER_DATA, vcpu=3, memory_mib=1024, network_bridge=None, **plugged, **common)
    guest.up()
    after = _wait_for(guest, rf"VIGO-LIVE cpus=3 .*virtio-hotdisk.*{MAC}")
    assert _identity(guest) == identity, "no restart: the same qemu process and domain ID"
    assert len(guest.boots()) == 1
    assert _memory_kib(after) - _memory_kib(before) > 256 * 1024, (before, after)

    guest.declare(
        USER_DATA, vcpu=3, memory_mib=1024, network_bridge=None, nics=[first_nic], **common
    )
    guest.up()
    unplugged = _wait_for(guest, r"VIGO-LIVE cpus=3 .*disks=\[\] ")
    assert MAC not in unplugged
    assert _identity(guest) == identity
    assert guest.outputs()["restart_pending"] is False

    deferred = {**common, "max_vcpu": 4, "restart_on_change": False}
    guest.declare(
        USER_DATA, vcpu=3, memory_mib=1024, network_bridge=None, nics=[first_nic], **deferred
    )
    guest.up()
    assert _identity(guest) == identity, "restart_on_change=False: the guest runs on"
    outputs = guest.outputs()
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (True, ["max_vcpu"])
    assert guest.lab.preview().counts() == {"same": 1}, "a deferred change is no drift"

    guest.declare(
        USER_DATA,
        vcpu=3,
        memory_mib=1024,
        network_bridge=None,
        nics=[first_nic],
        state="stopped",
        **deferred,
    )
    guest.up()
    guest.declare(
        USER_DATA, vcpu=3, memory_mib=1024, network_bridge=None, nics=[first_nic], **deferred
    )
    guest.up()
    outputs = guest.outputs()
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (False, [])
    domain = guest.lab.domain(guest.short)
    maximum = libvirt.VIR_DOMAIN_VCPU_MAXIMUM | libvirt.VIR_DOMAIN_AFFECT_LIVE
    assert domain is not None and domain.vcpusFlags(maximum) == 4, "booted with the new maximum"
