"""One booted guest carrying the devices and tuning an operator sets (operations spec §4): a
macvtap NIC on a host interface the test makes, a VLAN-tagged NIC on an Open vSwitch bridge
the test makes, IO limits on its root, the virtio RNG, an
i6300esb watchdog, a password-protected VNC display on 127.0.0.1, and two data disks, one
throttled, read side by side. Proof comes from the
guest's console (what it prints about itself), from libvirt (``virsh blkdeviotune``, the
live definition) and from the host's qemu answering at the output port; nothing connects
to the guest.

The host's kernel here has no ``dummy`` module, so the macvtap parent is one end of a veth
pair; it has no ``openvswitch`` module either, so the OVS bridge uses OVS's userspace datapath
(see ``support.openvswitch``). Not booted here (see docs/tuning-and-display.md):
``bandwidth`` (needs the ``sfq`` qdisc this kernel lacks)."""

from __future__ import annotations

import re
import socket
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from support.disks import qemu_img
from support.openvswitch import ovs_bridge, port_tag

from .support import Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

PARENT, PEER = "vigomvt0", "vigomvt1"
OVS_BRIDGE, VLAN, TAGGED_MAC = "vigoovs0", 42, "52:54:00:4f:56:53"
PASSWORD = "e2e-pw"
IOPS, BYTES_PER_S = 5000, 100 * 2**20
THROTTLED_BYTES_PER_S, READ_MIB = 2 * 2**20, 8
"""The throttled disk's limit and what the guest reads of each disk (direct IO): at 2 MiB/s,
8 MiB cannot take less than about 3.5 s whatever the load (qemu lets a bucket of a tenth of
a second's worth through at once), while the unthrottled read takes a fraction of that."""
READ_BOTH = (
    "for d in fast slow; do s=$(date +%s%N); "
    f"dd if=/dev/disk/by-id/virtio-$d of=/dev/null bs=1M count={READ_MIB} iflag=direct; "
    "e=$(date +%s%N); echo VIGO-READ $d $(( (e - s) / 1000000 )) >/dev/ttyS0; done"
)
USER_DATA = f"""#cloud-config
runcmd:
  - [sh, -c, "{READ_BOTH}"]
  - "test -c /dev/hwrng && echo VIGO-HWRNG $(cat /sys/class/misc/hw_random/rng_current) >/dev/ttyS0"
  - "grep -qx {TAGGED_MAC} /sys/class/net/*/address && echo VIGO-TAGGED-NIC >/dev/ttyS0"
  - "grep -l 0x25ab /sys/bus/pci/devices/*/device | grep -q . && echo VIGO-WATCHDOG-PCI >/dev/ttyS0"
  - "echo VIGO-DONE > /dev/ttyS0"
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=30, capture_output=True)


@pytest.fixture
def macvtap_parent() -> Iterator[str]:
    """A host interface of the test's own to put the macvtap NIC on, removed after."""
    subprocess.run(["ip", "link", "del", PARENT], timeout=30, capture_output=True)
    _ip("link", "add", PARENT, "type", "veth", "peer", "name", PEER)
    try:
        _ip("link", "set", PARENT, "up")
        _ip("link", "set", PEER, "up")
        yield PARENT
    finally:
        _ip("link", "del", PARENT)  # takes its peer with it


@pytest.fixture
def open_vswitch() -> Iterator[str]:
    """An Open vSwitch bridge of the test's own for the tagged NIC, removed after."""
    with ovs_bridge(OVS_BRIDGE) as bridge:
        yield bridge


def _rfb(port: int) -> tuple[bytes, bytes]:
    """The RFB banner of the display at 127.0.0.1:``port`` and the security types it offers
    to a 3.8 client (2: VNC authentication, a password)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        banner = conn.recv(12)
        conn.sendall(b"RFB 003.008\n")
        count = conn.recv(1)
        types = conn.recv(count[0]) if count and count[0] else b""
    return banner, types


def test_a_guest_with_macvtap_vlan_io_limits_rng_watchdog_and_a_vnc_display(
    make_guest: Any, libvirt_conn: libvirt.virConnect, macvtap_parent: str, open_vswitch: str
) -> None:
    guest: Guest = make_guest("e2e/hardware")
    disks = {name: Path(guest.lab.root) / f"{name}.qcow2" for name in ("fast", "slow")}
    for path in disks.values():
        qemu_img("create", "-q", "-f", "qcow2", str(path), "64M")
        path.chmod(0o666)  # qemu runs as libvirt-qemu; the lab's folder is world-traversable
    guest.declare(
        USER_DATA,
        network_bridge=None,
        nics=[
            {"type": "direct", "dev": macvtap_parent, "mode": "bridge"},
            {"bridge": open_vswitch, "vlan": VLAN, "mac": TAGGED_MAC},
        ],
        disk_iops=IOPS,
        disk_bytes_per_s=BYTES_PER_S,
        data_disks=[
            {"path": str(disks["fast"]), "serial": "fast"},
            {"path": str(disks["slow"]), "serial": "slow", "bytes_per_s": THROTTLED_BYTES_PER_S},
        ],
        watchdog={"model": "i6300esb", "action": "reset"},
        graphics="vnc",
        graphics_password=PASSWORD,
        state="running",
    )
    result = guest.up()
    assert PASSWORD not in str(result), "the display's password is never shown"

    outputs = guest.outputs()
    port = outputs["graphics_port"]  # a whole number (the engine's numbers are doubles)
    assert port == int(port) >= 5900
    port = int(port)
    banner, types = _rfb(port)
    assert banner.startswith(b"RFB 003."), banner
    assert types == b"\x02", "the display asks for its password (VNC authentication only)"

    tune = subprocess.run(
        ["virsh", "-c", "qemu:///system", "blkdeviotune", guest.name, "vda"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    limits = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in tune.splitlines())
        if value
    }
    assert int(limits["total_iops_sec"]) == IOPS
    assert int(limits["total_bytes_sec"]) == BYTES_PER_S

    live = ET.fromstring(libvirt_conn.lookupByName(guest.name).XMLDesc(0))
    nic, tagged = live.findall("devices/interface")
    assert nic.get("type") == "direct"
    assert nic.find("source").attrib == {"dev": macvtap_parent, "mode": "bridge"}
    assert tagged.find("virtualport").get("type") == "openvswitch"
    port = tagged.find("target").get("dev")
    assert port_tag(port) == VLAN, f"Open vSwitch tags the NIC's port {port} with {VLAN}"
    assert live.find("devices/watchdog").get("model") == "i6300esb"

    boot = guest.wait_for_boot_log(1, r"VIGO-DONE")
    assert boot is not None
    console = guest.boots()[0]
    assert "VIGO-TAGGED-NIC" in console, "the guest has the tagged NIC"
    assert "VIGO-HWRNG virtio_rng" in console, "/dev/hwrng is the virtio RNG"
    assert "VIGO-WATCHDOG-PCI" in console, "the i6300esb is on the guest's PCI bus"
    took = {d: int(ms) for d, ms in re.findall(r"VIGO-READ (fast|slow) (\d+)", console)}
    assert took["slow"] >= 3000, f"{READ_MIB} MiB at 2 MiB/s in {took['slow']} ms: not throttled"
    assert took["fast"] * 2 < took["slow"], f"the unthrottled disk is not faster: {took}"

    assert guest.lab.harness().preview().counts() == {"same": 1}, "read back: no drift"
