"""Adopting a domain this package did not create (operations spec §1), on a real libvirtd:
the marker written in place, nothing restarted when the inputs describe the domain as it
is, every refusal shown at preview (and again at up) before anything changes, the domain's
disks never removed.

The domains here are defined from XML as another tool leaves them (no marker, a VNC
display, libvirt's own devices), then adopted through the engine.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from pathlib import Path

import libvirt
import pytest
from support.disks import qemu_img, sha256, write_marker
from support.lab import Lab
from support.world import LOCAL_URI

from pulumi_vigo_vm.testing import CheckFailedError, ProviderError
from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt

MAC = "52:54:00:5a:00:01"
FOREIGN = """
<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='{root}'/><target dev='vda' bus='virtio'/>
    </disk>
    {extra}
    <interface type='bridge'>
      <mac address='{mac}'/><source bridge='{bridge}'/><model type='virtio'/>
    </interface>
    <graphics type='vnc' autoport='yes'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
"""


def _foreign(lab: Lab, short: str, extra: str = "") -> tuple[libvirt.virDomain, Path]:
    """A domain named like the lab's VM ``short``, as another tool defined it: its own
    standalone root disk (with data in it), a NIC, a VNC display; no marker."""
    root = lab.root / f"{short}-root.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(root), "64M")
    write_marker(root)
    xml = FOREIGN.format(
        name=lab.name(short), uuid=uuid.uuid4(), root=root, mac=MAC, bridge=lab.bridge, extra=extra
    )
    return lab.live_conn().defineXML(xml), root


def _adopting(lab: Lab, short: str, domain: libvirt.virDomain, root: Path, **args: object) -> None:
    lab.vm(
        short,
        disk_path=str(root),
        disk_mode="attach",
        adopt="{" + domain.UUIDString().upper() + "}",  # as another tool may print it
        nics=[{"bridge": lab.bridge, "mac": MAC}],
        **args,
    )


def _data_disk(lab: Lab) -> tuple[Path, str]:
    """A data disk file and its ``<disk>`` (no serial, as virt-install attaches one)."""
    data = lab.root / "a-data.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "16M")
    xml = (
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{data}'/><target dev='vdb' bus='virtio'/></disk>"
    )
    return data, xml


def test_a_running_domain_is_adopted_in_place_and_later_converges(lab: Lab) -> None:
    data, disk = _data_disk(lab)
    domain, root = _foreign(lab, "a", disk)
    domain.create()
    running_id, uuid_ = domain.ID(), domain.UUIDString()
    disks = [{"path": str(data), "serial": False}]
    _adopting(lab, "a", domain, root, state="running", data_disks=disks)

    assert lab.up().ops() == {"a": "create"}

    assert domain.ID() == running_id, "adopting must not restart the guest"
    persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    live = from_xml(persistent)
    assert live.claim is not None and live.claim.endswith("VigoVm::a")
    assert from_xml(domain.XMLDesc(0)).claim == live.claim  # written live too, in place
    assert live.config.uuid == uuid_ and live.config.overlay_path == str(root)
    assert "<graphics type='vnc'" in persistent and "<timer name='rtc'" in persistent
    assert domain.autostart()
    assert lab.outputs("a").get("overlay_path") is None
    assert lab.preview().counts() == {"same": 1}

    digest = sha256(root)
    _adopting(lab, "a", domain, root, state="running", data_disks=disks, memory_mib=80)
    assert lab.up().ops() == {"a": "update"}
    assert from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config.memory_mib == 80
    assert lab.power("a") == "running"

    lab.harness().destroy()
    assert lab.domain("a") is None
    assert root.exists() and sha256(root) == digest, "an adopted root is never removed"
    assert data.exists()


def test_without_adopt_the_domain_is_refused_as_before(lab: Lab) -> None:
    domain, root = _foreign(lab, "a")
    lab.vm("a", state="defined", disk_path=str(root), disk_mode="attach")
    before = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    with pytest.raises(ProviderError, match="was not created by pulumi_vigo_vm"):
        lab.up()

    assert domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before


def _refused_at_preview(lab: Lab, prop: str, message: str) -> None:
    """Preview fails on ``prop`` with ``message``, before anything changes; so does up."""
    with pytest.raises(CheckFailedError) as caught:
        lab.preview()
    assert [f.property for f in caught.value.failures] == [prop], caught.value
    assert re.search(message, caught.value.failures[0].reason), caught.value
    with pytest.raises(CheckFailedError):
        lab.up()
    assert lab.harness().snapshot().program_resources() == []


@pytest.mark.parametrize(
    ("change", "prop", "message"),
    [
        ({"adopt": str(uuid.UUID(int=1))}, "adopt", r"has the UUID .*, not 00000000-"),
        ({"vm_name": "nowhere"}, "adopt", r"no domain named '.*nowhere' .* drop adopt"),
        ({"nics": []}, "nics", r"NIC 52:54:00:5a:00:01 .*not declare.*'mac': '52:54:00:5a:00:01'"),
        ({"disk_path": "/var/tmp/elsewhere.qcow2"}, "disk_path", r"boots from .*a-root\.qcow2"),
        ({}, "data_disks", r".*-data\.qcow2 \(vdb\).*not declare"),
    ],
    ids=["another-uuid", "no-domain", "undeclared-nic", "another-root", "undeclared-disk"],
)
def test_every_refusal_is_shown_at_preview_naming_the_input_and_the_fix(
    lab: Lab, change: dict[str, object], prop: str, message: str
) -> None:
    data, disk = _data_disk(lab)
    domain, root = _foreign(lab, "a", disk)
    Path("/var/tmp/elsewhere.qcow2").unlink(missing_ok=True)
    if "disk_path" in change:
        qemu_img("create", "-q", "-f", "qcow2", "/var/tmp/elsewhere.qcow2", "16M")
    _adopting(lab, "a", domain, root, state="defined")
    if "data_disks" not in change and change:
        lab.vms["a"]["data_disks"] = [{"path": str(data), "serial": False}]
    if "vm_name" in change:
        change = {"vm_name": lab.name(str(change["vm_name"]))}
    lab.vms["a"].update(change)
    before = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    try:
        _refused_at_preview(lab, prop, message)
    finally:
        Path("/var/tmp/elsewhere.qcow2").unlink(missing_ok=True)

    assert domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
    assert not domain.autostart()


def test_a_domain_another_stack_adopted_is_refused_at_preview_naming_it(lab: Lab) -> None:
    domain, root = _foreign(lab, "a")
    _adopting(lab, "a", domain, root, state="defined")
    assert lab.harness(stack="other").up().ops() == {"a": "create"}
    before = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    _refused_at_preview(lab, "vm_name", r"already exists .* and belongs to .*other.*VigoVm::a")

    assert domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before


def test_adopt_needs_an_attached_root(lab: Lab) -> None:
    domain, _root = _foreign(lab, "a")
    lab.vm("a", state="defined", adopt=domain.UUIDString())  # disk_path: the lab's base

    with pytest.raises(CheckFailedError) as caught:
        lab.preview()

    assert [f.property for f in caught.value.failures] == ["disk_mode"]
    assert "disk_mode='attach'" in caught.value.failures[0].reason


def test_a_domain_in_a_block_job_is_refused_until_it_ends(lab: Lab) -> None:
    domain, root = _foreign(lab, "a")
    domain.create()
    copy = lab.root / "a-copy.qcow2"
    transient = libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB  # a persistent domain needs it
    domain.blockCopy("vda", f"<disk type='file'><source file='{copy}'/></disk>", None, transient)
    _adopting(lab, "a", domain, root, state="running")

    _refused_at_preview(lab, "adopt", r"a block job on vda .*wait for it to end")
    assert not from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).marked

    domain.blockJobAbort("vda", 0)
    assert lab.up().ops() == {"a": "create"}


def test_a_domain_in_a_migration_is_refused_until_it_ends(lab: Lab) -> None:
    """A real outgoing migration job, with no second host: the peer-to-peer migration
    connects to a socket on 127.0.0.1 that accepts and never answers, so the job stays
    active (and libvirt keeps answering on the domain) until the test closes it."""
    domain, root = _foreign(lab, "a")
    domain.create()
    failed: list[libvirt.libvirtError] = []
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]

        def migrate() -> None:
            flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
            flags |= libvirt.VIR_MIGRATE_UNSAFE  # its disk is not shared: never gets that far
            with contextlib.closing(libvirt.open(LOCAL_URI)) as conn:
                try:
                    guest = conn.lookupByName(domain.name())
                    guest.migrateToURI3(f"qemu+tcp://127.0.0.1:{port}/system", {}, flags)
                except libvirt.libvirtError as exc:
                    failed.append(exc)

        migrating = threading.Thread(target=migrate, daemon=True)
        migrating.start()
        peer, _ = silent.accept()  # the job is on once libvirt dials the "target"
        with peer:
            assert domain.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE
            _adopting(lab, "a", domain, root, state="running")

            _refused_at_preview(lab, "adopt", r"running a migration \(virsh domjobinfo\);")
            assert not from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).marked
    migrating.join(timeout=120)  # the "target" hung up: the migration fails, the job ends
    assert failed and domain.isActive(), failed

    assert lab.up().ops() == {"a": "create"}


def test_a_root_another_domain_writes_is_refused(lab: Lab) -> None:
    domain, root = _foreign(lab, "a")
    other = FOREIGN.format(
        name=lab.name("other"),
        uuid=uuid.uuid4(),
        root=root,
        mac="52:54:00:5a:00:02",
        bridge=lab.bridge,
        extra="",
    )
    lab.live_conn().defineXML(other)
    _adopting(lab, "a", domain, root, state="defined")

    _refused_at_preview(lab, "disk_path", r"a-root\.qcow2 .* already attached writable to .*-other")
    assert not from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).marked
