"""A booted guest with a data disk and a static address from the seed's network-config, then
reseeded: two boots prove the guest sees its disk by serial, applies network-config, and
runs cloud-init again over the same root without a replace. Nothing connects to the guest:
proof comes from its console (what it prints about itself) and from libvirt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.disks import qemu_img
from support.network import IsolatedNetwork

from .support import Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

FIRST_BOOT_FILE = "/var/lib/vigo-e2e-first-boot"
MAC = "52:54:00:5e:00:42"


def network_config(address: str) -> str:
    return f"""version: 2
ethernets:
  backend:
    match:
      macaddress: "{MAC}"
    addresses: [{address}]
"""


FIRST = f"""#cloud-config
runcmd:
  - [sh, -c, "touch {FIRST_BOOT_FILE}"]
  - [sh, -c, "echo VIGO-DISK $(readlink -f /dev/disk/by-id/virtio-pgdata) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-ADDR $(ip -4 -o addr | awk '{{print $4}}' | xargs) > /dev/ttyS0"]
"""
SECOND = f"""#cloud-config
runcmd:
  - [sh, -c, "test -f {FIRST_BOOT_FILE} && echo VIGO-SAME-ROOT > /dev/ttyS0"]
"""


def test_a_guest_sees_its_data_disk_and_static_address_and_reseeds_on_the_same_root(
    make_guest: Any, isolated_network: IsolatedNetwork
) -> None:
    guest: Guest = make_guest("e2e/devices")
    data = Path(guest.lab.root) / "pgdata.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "64M")
    data.chmod(0o666)  # qemu runs as libvirt-qemu; the lab's folder is world-traversable
    static = f"{isolated_network.subnet.network_address + 251}/{isolated_network.subnet.prefixlen}"
    common = {
        "network_bridge": None,
        "nics": [{"network": isolated_network.name, "mac": MAC}],
        "data_disks": [{"path": str(data), "serial": "pgdata"}],
        "cloud_init_network_config": network_config(static),
        "on_seed_change": "reseed",
        "state": "running",
        "wait_for": "ready",
        "wait_timeout_s": 600,
        "address_source": "agent",
    }
    guest.declare(FIRST, **common)
    guest.up()

    first = guest.boots()[-1]
    assert "VIGO-DISK /dev/vdb" in first, "the data disk is at /dev/disk/by-id/virtio-pgdata"
    assert static in first.split("VIGO-ADDR", 1)[1].splitlines()[0], "network-config applied"
    outputs = guest.outputs()
    assert outputs["ip_address"] == static.split("/")[0], "the agent reports the static address"
    uuid, overlay = outputs["uuid"], Path(outputs["overlay_path"]).stat().st_ino

    guest.declare(SECOND, **common)
    step = guest.lab.preview().step(guest.short)
    assert (step.op, list(step.replaces)) == ("update", [])
    guest.up()

    assert "VIGO-SAME-ROOT" in guest.boots()[-1], "cloud-init ran again over the same root"
    after = guest.outputs()
    assert after["uuid"] == uuid and Path(after["overlay_path"]).stat().st_ino == overlay
    assert len(guest.seeds()) == 1, "the old seed is gone once swapped out"
    assert guest.lab.harness().preview().counts() == {"same": 1}
