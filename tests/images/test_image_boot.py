"""Smoke test of the test image: one boot under TCG with a NoCloud seed, through libvirt,
read from the serial log and the guest agent.

Builds (or reuses) the cached base image, puts a 3 GiB qcow2 overlay over it, writes a
``cidata`` seed ISO with pycdlib and boots a transient TCG domain: q35, disk on virtio, seed
on a virtio-scsi CD-ROM, serial to a file, a NIC on the session's isolated network
(``isolated_network``) and the guest agent's channel. The one boot proves two things, each
its own test: cloud-init used the NoCloud datasource, ran ``runcmd`` with the hostname it
set, grew the root filesystem to the disk and powered the guest off; and the guest got a
DHCP lease, its qemu-guest-agent answers ``guest-ping`` and reports the leased address.
Nothing connects to the guest's address.

``pc``, the machine of a BIOS guest the provider defines, boots this image with the same
devices in ``tests/e2e/test_guest_boot.py``, whose first boot checks the same things (and
more); q35 with BIOS is booted only here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import libvirt
import libvirt_qemu
import pycdlib
import pytest
from support.network import IsolatedNetwork
from support.world import world_root

BOOT_TIMEOUT_S = 420
AGENT_BOOT_TIMEOUT_S = 240
AGENT_CHANNEL = "org.qemu.guest_agent.0"
OVERLAY_SIZE = 3 * 1024**3
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _load_builder() -> ModuleType:
    """Import build.py by path (``build`` alone would clash with the PyPI package)."""
    path = Path(__file__).with_name("build.py")
    spec = importlib.util.spec_from_file_location("vigo_test_image_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def base_image() -> Path:
    """The cached base image, built on first use (needs root)."""
    builder = _load_builder()
    if os.geteuid() != 0 and not builder.image_path().exists():
        pytest.fail("building the test image needs root (run the tests as root, as CI does)")
    image: Path = builder.ensure_image()
    return image


def make_seed_iso(path: Path, user_data: str, meta_data: str) -> None:
    """Write a NoCloud seed ISO: volume id ``cidata``, Joliet and Rock Ridge names."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, text in (("user-data", user_data), ("meta-data", meta_data)):
        data = text.encode()
        iso_name = "/" + name.replace("-", "").upper() + ".;1"
        iso.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=name, joliet_path="/" + name)
    iso.write(str(path))
    iso.close()


def _read_log(path: Path) -> str:
    if not path.exists():
        return ""
    return ANSI_ESCAPE.sub("", path.read_text(errors="replace"))


T = TypeVar("T")


def _domain_xml(name: str, disk: Path, seed: Path, serial_log: Path, network: str) -> str:
    """A TCG domain: q35, disk on virtio, seed on virtio-scsi, a NIC on ``network``, a
    serial log file, and the guest agent's virtio-serial channel."""
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = "1024"
    ET.SubElement(dom, "vcpu").text = "2"
    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="q35").text = "hvm"
    ET.SubElement(os_, "boot", dev="hd")
    ET.SubElement(ET.SubElement(dom, "features"), "acpi")
    devices = ET.SubElement(dom, "devices")
    vda = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(vda, "driver", name="qemu", type="qcow2")
    ET.SubElement(vda, "source", file=str(disk))
    ET.SubElement(vda, "target", dev="vda", bus="virtio")
    ET.SubElement(devices, "controller", type="scsi", model="virtio-scsi")
    cd = ET.SubElement(devices, "disk", type="file", device="cdrom")
    ET.SubElement(cd, "driver", name="qemu", type="raw")
    ET.SubElement(cd, "source", file=str(seed))
    ET.SubElement(cd, "target", dev="sda", bus="scsi")
    ET.SubElement(cd, "readonly")
    nic = ET.SubElement(devices, "interface", type="network")
    ET.SubElement(nic, "source", network=network)
    ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(serial_log))
    channel = ET.SubElement(devices, "channel", type="unix")
    ET.SubElement(channel, "target", type="virtio", name=AGENT_CHANNEL)
    return ET.tostring(dom, encoding="unicode")


def _poll(probe: Callable[[], T | None], what: str, deadline: float, log: Path) -> T:
    """Call ``probe`` every half second until it returns something; fail at ``deadline``."""
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(
                f"no {what} by the deadline ({AGENT_BOOT_TIMEOUT_S} s from the start for the "
                f"agent, {BOOT_TIMEOUT_S} s for power-off); serial tail:\n" + _read_log(log)[-3000:]
            )
        time.sleep(0.5)


HOSTNAME = "vigo-smoke-q35"
RELEASE = "/run/vigo-smoke-release"
"""runcmd waits for this file, written through the agent once the test has seen the lease
and the agent's addresses, so the guest cannot power off before they were read."""
USER_DATA = f"""#cloud-config
hostname: {HOSTNAME}
runcmd:
  - [sh, -c, "echo VIGO-MARKER-$(hostname) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-ROOT-SIZE=$(df -B1 --output=size / | tail -n1 | tr -d ' ') > /dev/ttyS0"]
  - [sh, -c, "for i in $(seq {AGENT_BOOT_TIMEOUT_S}); do test -e {RELEASE} && break; sleep 1; done"]
power_state: {{mode: poweroff}}
"""


@dataclass(frozen=True)
class Boot:
    """What the one boot showed: the lease, the agent's answers, the serial log."""

    subnet_has_lease: bool
    ping: str
    agent_addresses: set[str]
    lease: str
    log: str
    seconds: float


def _agent(dom: libvirt.virDomain, command: str, **arguments: Any) -> Any:
    request = json.dumps({"execute": command, "arguments": arguments})
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, request, 10, 0))["return"]


@pytest.fixture(scope="module")
def q35_boot(
    base_image: Path,
    libvirt_conn: libvirt.virConnect,
    isolated_network: IsolatedNetwork,
    request: pytest.FixtureRequest,
) -> Iterator[Boot]:
    root, digest = world_root("img", request.node.nodeid)
    name = f"vigo-img-{digest}-q35"
    with contextlib.suppress(libvirt.libvirtError):  # a leftover of an earlier run
        libvirt_conn.lookupByName(name).destroy()
    seed = root / "seed.iso"
    make_seed_iso(seed, USER_DATA, f"instance-id: i-{HOSTNAME}\nlocal-hostname: {HOSTNAME}\n")
    overlay = root / "overlay.qcow2"
    backing = ["-F", "qcow2", "-b", str(base_image)]
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(overlay), str(OVERLAY_SIZE)],
        check=True,
    )
    serial_log = root / "serial.log"
    net = libvirt_conn.networkLookupByName(isolated_network.name)
    started = time.monotonic()
    dom = libvirt_conn.createXML(_domain_xml(name, overlay, seed, serial_log, net.name()), 0)
    try:
        mac = ET.fromstring(dom.XMLDesc(0)).find("devices/interface/mac").get("address")  # type: ignore[union-attr]
        deadline = started + AGENT_BOOT_TIMEOUT_S

        def lease() -> dict[str, Any] | None:
            return next((x for x in net.DHCPLeases() if x["mac"] == mac), None)

        def ping() -> str | None:
            try:
                return str(libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 1, 0))
            except libvirt.libvirtError:
                return None

        # Both at once, so each one's time is its own (the agent may answer first).
        seen: dict[str, tuple[float, Any]] = {}

        def both() -> dict[str, tuple[float, Any]] | None:
            for key, probe in (("lease", lease), ("agent", ping)):
                if key not in seen and (found := probe()) is not None:
                    seen[key] = (time.monotonic() - started, found)
            return seen if len(seen) == 2 else None

        _poll(both, f"DHCP lease for {mac} on {net.name()} and guest-ping", deadline, serial_log)
        (to_lease, got), (to_agent, answer) = seen["lease"], seen["agent"]
        print(f"lease {got['ipaddr']} after {to_lease:.1f} s, agent after {to_agent:.1f} s")

        def agent_addresses() -> set[str] | None:
            src = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
            try:
                reported = dom.interfaceAddresses(src)
            except libvirt.libvirtError:
                return None
            ips = {
                a["addr"]
                for v in reported.values()
                if v.get("hwaddr") == mac
                for a in v.get("addrs") or []
            }
            return ips if got["ipaddr"] in ips else None

        addresses = _poll(agent_addresses, f"agent-reported {got['ipaddr']}", deadline, serial_log)
        _agent(
            dom, "guest-file-close", handle=_agent(dom, "guest-file-open", path=RELEASE, mode="w")
        )

        def powered_off() -> bool | None:
            try:
                return None if dom.isActive() else True
            except libvirt.libvirtError:  # transient: gone once it powered off
                return True

        _poll(powered_off, "power-off", started + BOOT_TIMEOUT_S, serial_log)
        seconds = time.monotonic() - started
        print(f"q35: boot to power-off took {seconds:.0f} s")
        yield Boot(
            subnet_has_lease=ipaddress.ip_address(got["ipaddr"]) in isolated_network.subnet,
            ping=answer,
            agent_addresses=addresses,
            lease=got["ipaddr"],
            log=_read_log(serial_log),
            seconds=seconds,
        )
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()  # transient: gone with this
        shutil.rmtree(root, ignore_errors=True)  # a failure quoted the serial log's tail


@pytest.mark.slow
@pytest.mark.libvirt
def test_image_boots_and_applies_nocloud_user_data(q35_boot: Boot) -> None:
    log = q35_boot.log
    assert "Datasource DataSourceNoCloud" in log, log[-3000:]
    assert "DataSourceNone" not in log
    assert f"VIGO-MARKER-{HOSTNAME}" in log, log[-3000:]
    sizes = re.findall(r"VIGO-ROOT-SIZE=(\d+)", log)
    assert sizes, log[-3000:]
    root_size = int(sizes[-1])
    # The base partition is 2 GiB; growpart + resize2fs should take it to ~3 GiB.
    assert 0.9 * OVERLAY_SIZE < root_size <= OVERLAY_SIZE, root_size
    assert "reboot: Power down" in log


@pytest.mark.slow
@pytest.mark.libvirt
def test_image_gets_a_lease_and_runs_the_guest_agent(q35_boot: Boot) -> None:
    assert json.loads(q35_boot.ping) == {"return": {}}
    assert q35_boot.subnet_has_lease, q35_boot.lease
    assert q35_boot.lease in q35_boot.agent_addresses
