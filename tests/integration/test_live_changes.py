"""Changes without downtime against a real libvirtd (operations.md §3): hot-plugged NICs and
disks, vCPUs and memory within the maxima, the restart rule for an unplug the guest does not
complete, and ``restart_on_change=False``. The guests run a blank disk (no OS): qemu plugs
devices and vCPUs in without one, and nothing acknowledges an unplug. What a booted guest
sees is ``tests/e2e/test_guest_live_changes.py``'s."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab
from support.world import LOCAL_URI

from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt


@pytest.fixture
def llab(
    bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A local-only world: what differs over qemu+ssh is the transport, which the device
    and lifecycle suites cover."""
    lab = Lab.new("live", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    yield from lab.lifetime()


def qemu_pid(lab: Lab, short: str) -> int:
    return int(Path(f"/run/libvirt/qemu/{lab.name(short)}.pid").read_text().strip())


def running(lab: Lab, short: str) -> ET.Element:
    domain = lab.domain(short)
    assert domain is not None
    return ET.fromstring(domain.XMLDesc(0))


def persistent(lab: Lab, short: str) -> ET.Element:
    domain = lab.domain(short)
    assert domain is not None
    return ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def slots(root: ET.Element) -> dict[str, str | None]:
    """Each NIC's (by MAC) and data disk's (by serial) PCI slot."""
    found: dict[str, str | None] = {}
    for interface in root.findall("devices/interface"):
        mac, address = interface.find("mac"), interface.find("address")
        assert mac is not None and address is not None
        found[mac.get("address", "")] = address.get("slot")
    for disk in root.findall("devices/disk"):
        serial, address = disk.findtext("serial"), disk.find("address")
        if serial and address is not None:
            found[serial] = address.get("slot")
    return found


def disk(lab: Lab, name: str) -> str:
    from support.disks import qemu_img

    path = lab.root / name
    qemu_img("create", "-q", "-f", "qcow2", str(path), "16M")
    return str(path)


def test_nics_disks_vcpus_and_memory_change_live_in_the_same_qemu(llab: Lab) -> None:
    lab = llab
    first = disk(lab, "first.qcow2")
    nic = {"bridge": lab.bridge}
    limits = {"max_vcpu": 3, "max_memory_mib": 128}
    lab.vm("a", nics=[nic], data_disks=[{"path": first, "serial": "first"}], **limits)
    lab.up()
    pid, domain_id = qemu_pid(lab, "a"), lab.domain("a").ID()  # type: ignore[union-attr]
    before = slots(running(lab, "a"))

    second = disk(lab, "second.qcow2")
    disks = [{"path": first, "serial": "first"}, {"path": second, "serial": "second"}]
    lab.vm("a", nics=[nic, nic], data_disks=disks, vcpu=3, memory_mib=96, **limits)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()

    assert (qemu_pid(lab, "a"), lab.domain("a").ID()) == (pid, domain_id)  # type: ignore[union-attr]
    live = from_xml(ET.tostring(running(lab, "a"), encoding="unicode")).config
    assert (live.vcpu, len(live.nics), [d.serial for d in live.data_disks]) == (
        3,
        2,
        ["first", "second"],
    )
    now = slots(running(lab, "a"))
    for key, slot in before.items():
        assert now[key] == slot, f"{key} moved to another PCI slot"
    assert slots(persistent(lab, "a")) == now, "the definition keeps the slots the guest has"
    outputs = lab.outputs("a")
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (False, [])
    assert lab.preview().counts() == {"same": 1}


def test_an_unplug_the_guest_never_completes_falls_back_to_one_restart(llab: Lab) -> None:
    lab = llab
    nic = {"bridge": lab.bridge}
    lab.vm("a", nics=[nic, nic])
    lab.up()
    macs = lab.outputs("a")["mac_addresses"]
    domain_id = lab.domain("a").ID()  # type: ignore[union-attr]

    lab.vm("a", nics=[{"bridge": lab.bridge, "mac": macs[0]}])
    lab.up()  # a blank guest never acknowledges: shutdown_timeout_s=1, then the restart
    assert lab.domain("a").ID() != domain_id  # type: ignore[union-attr]
    assert [
        n.mac for n in from_xml(ET.tostring(running(lab, "a"), encoding="unicode")).config.nics
    ] == [macs[0]]
    assert lab.outputs("a")["restart_pending"] is False


def test_without_restart_on_change_the_guest_runs_on_until_its_next_power_cycle(
    llab: Lab,
) -> None:
    lab = llab
    nic = {"bridge": lab.bridge}
    lab.vm("a", nics=[nic, nic], restart_on_change=False)
    lab.up()
    macs = lab.outputs("a")["mac_addresses"]
    pid = qemu_pid(lab, "a")

    lab.vm("a", nics=[{"bridge": lab.bridge, "mac": macs[0]}], max_vcpu=2, restart_on_change=False)
    lab.up()
    assert qemu_pid(lab, "a") == pid
    outputs = lab.outputs("a")
    assert outputs["restart_pending"] is True
    assert sorted(outputs["pending_changes"]) == ["max_vcpu", "nics"]
    assert persistent(lab, "a").find("vcpu").text == "2"  # type: ignore[union-attr]
    assert running(lab, "a").find("vcpu").text == "1"  # type: ignore[union-attr]
    assert lab.preview().counts() == {"same": 1}, "a deferred change is no drift"
    assert lab.harness().refresh().ok
    assert lab.outputs("a")["pending_changes"] == outputs["pending_changes"]

    lab.vm(
        "a",
        nics=[{"bridge": lab.bridge, "mac": macs[0]}],
        max_vcpu=2,
        restart_on_change=False,
        state="stopped",
    )
    lab.up()
    lab.vm("a", nics=[{"bridge": lab.bridge, "mac": macs[0]}], max_vcpu=2, restart_on_change=False)
    lab.up()
    outputs = lab.outputs("a")
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (False, [])
    assert running(lab, "a").find("vcpu").text == "2"  # type: ignore[union-attr]
