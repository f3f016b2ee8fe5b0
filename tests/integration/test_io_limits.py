"""IO limits change in the running guest (operations.md §4; virDomainSetBlockIoTune), against a
real libvirtd: the same qemu, the new limits in ``virsh blkdeviotune`` and in the persistent
definition, and a cache change left to a power cycle. The guest runs a blank disk (no OS):
qemu throttles a disk without one."""

from __future__ import annotations

import subprocess
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
    lab = Lab.new("iotune", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    yield from lab.lifetime()


def qemu_pid(lab: Lab) -> int:
    return int(Path(f"/run/libvirt/qemu/{lab.name('a')}.pid").read_text().strip())


def blkdeviotune(lab: Lab, target: str) -> dict[str, int]:
    text = subprocess.run(
        ["virsh", "-c", "qemu:///system", "blkdeviotune", lab.name("a"), target],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    parts = (line.partition(":") for line in text.splitlines())
    return {key.strip(): int(value) for key, _, value in parts if value.strip().isdigit()}


def test_io_limits_change_live_and_a_cache_change_waits_for_a_power_cycle(llab: Lab) -> None:
    lab = llab
    lab.vm("a", disk_iops=800)
    lab.up()
    pid = qemu_pid(lab)
    assert blkdeviotune(lab, "vda")["total_iops_sec"] == 800

    lab.vm("a", disk_iops=300, disk_bytes_per_s=8 * 2**20)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()

    assert qemu_pid(lab) == pid, "the same qemu: no restart"
    limits = blkdeviotune(lab, "vda")
    assert (limits["total_iops_sec"], limits["total_bytes_sec"]) == (300, 8 * 2**20)
    domain = lab.domain("a")
    assert domain is not None
    saved = from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config.root_tune
    assert (saved.iops, saved.bytes_per_s) == (300, 8 * 2**20)
    outputs = lab.outputs("a")
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (False, [])
    assert lab.preview().counts() == {"same": 1}

    lab.vm(
        "a",
        disk_iops=300,
        disk_bytes_per_s=8 * 2**20,
        disk_cache="writeback",
        restart_on_change=False,
    )
    lab.up()
    assert qemu_pid(lab) == pid
    assert lab.outputs("a")["pending_changes"] == [
        "disk_cache",
        "disk_io",
        "disk_iops",
        "disk_bytes_per_s",
    ]
