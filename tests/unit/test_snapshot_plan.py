"""What a VigoSnapshot covers, decided from a domain definition (pure): every writable qcow2
disk; read-only ones left out; refused, before anything is asked of libvirt, for a raw
writable disk and for a running EFI guest (qemu cannot snapshot its pflash NVRAM)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pulumi_vigo_vm.errors import SnapshotError
from pulumi_vigo_vm.hostfile.snapshots import made_in_state, parse_snapshot
from pulumi_vigo_vm.snapshot.plan import plan_snapshot
from pulumi_vigo_vm.snapshot.spec import SnapshotSpec

CLAIM = "state:" + "0" * 32 + "/org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoSnapshot::s"
SPEC = SnapshotSpec("web", "qemu:///system", "before", CLAIM, "pre-upgrade")


def domain(*disks: str, os_extra: str = "") -> str:
    return (
        f"<domain><os><type>hvm</type>{os_extra}</os><devices>{''.join(disks)}</devices></domain>"
    )


def disk(device: str, fmt: str, path: str, target: str, extra: str = "") -> str:
    source = f"<driver type='{fmt}'/><source file='{path}'/><target dev='{target}'/>"
    return f"<disk device='{device}'>{source}{extra}</disk>"


ROOT = disk("disk", "qcow2", "/i/web.qcow2", "vda")
SEED = disk("cdrom", "raw", "/i/seed.iso", "sda", "<readonly/>")
RAW = disk("disk", "raw", "/i/d.raw", "vdb")
EFI = "<loader type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/n/web.fd</nvram>"


def test_writable_qcow2_disks_are_covered_and_read_only_ones_left_out() -> None:
    plan = plan_snapshot(SPEC, domain(ROOT, SEED), running=True)

    root = ET.fromstring(plan.xml)
    assert plan.disks == ("vda",)
    assert root.find("memory").get("snapshot") == "internal"
    modes = {d.get("name"): d.get("snapshot") for d in root.iterfind("./disks/disk")}
    assert modes == {"vda": "internal", "sda": "no"}
    # the description carries the user's text, then our claim: read back as written
    xml = plan.xml.replace("</domainsnapshot>", "<creationTime>0</creationTime></domainsnapshot>")
    facts = parse_snapshot(xml)
    assert (facts.description, facts.claim) == ("pre-upgrade", CLAIM)


def test_a_stopped_vm_is_snapshotted_without_memory() -> None:
    plan = plan_snapshot(SPEC, domain(ROOT, os_extra=EFI), running=False)
    assert ET.fromstring(plan.xml).find("memory").get("snapshot") == "no"


@pytest.mark.parametrize(
    ("disks", "os_extra", "reason"),
    [
        ((ROOT, RAW), "", "writable disks that are not qcow2: vdb (/i/d.raw, raw)"),
        ((ROOT,), EFI, "running EFI guest"),
    ],
)
def test_what_qemu_cannot_snapshot_is_refused(
    disks: tuple[str, ...], os_extra: str, reason: str
) -> None:
    with pytest.raises(SnapshotError, match=re.escape(reason)):
        plan_snapshot(SPEC, domain(*disks, os_extra=os_extra), running=True)


def test_a_snapshot_is_the_stacks_own_only_when_a_vigosnapshot_of_its_state_claims_it() -> None:
    vm_claim = "state:" + "0" * 32 + "/org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoVm::w"
    other_state = CLAIM.replace("0" * 32, "1" * 32)
    a_disk = CLAIM.replace("VigoSnapshot", "VigoDisk")
    assert made_in_state(CLAIM, vm_claim)
    assert not made_in_state(other_state, vm_claim)
    assert not made_in_state(a_disk, vm_claim)
    assert not made_in_state(None, vm_claim)
