"""A stack written by the previous release keeps working (fleet spec §0), proven with what
that release itself wrote (fixtures/v1: its state with its pickled provider, its domain XML,
its overlay and seed). The first ``up`` rewrites the marker in place, sets the autostart
flag (operations spec §2) and restarts nothing;
the second is a no-op; ``refresh`` and ``destroy`` run with the old provider blob."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest
from support.disks import has_marker, sha256, write_marker
from support.lab import PROGRAM

from pulumi_vigo_vm.testing import EngineHarness
from pulumi_vigo_vm.vm.domain_xml import from_xml
from pulumi_vigo_vm.vm.filenames import console_log_path

pytestmark = pytest.mark.libvirt

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v1"
ROOT = Path("/var/tmp/vigo-compat-root")  # the overlay names its base by this path
VM_NAME = "vigo-compat-v1"
SEED = "vigo-compat-v1-seed-f0ce49c4.iso"
BASE_MTIME = 1780000000.0
# The program's declaration, as that release's stack had it.
VMS = {
    "compat": {
        "vm_name": VM_NAME,
        "memory_mib": 64,
        "vcpu": 1,
        "disk_path": str(ROOT / "base.qcow2"),
        "shutdown_timeout_s": 1,
        "network_bridge": "vigobr0",
        "cloud_init_user_data": "#cloud-config\nhostname: compat\n",
    }
}


@dataclass
class Upgraded:
    conn: libvirt.virConnect
    harness: EngineHarness

    @property
    def domain(self) -> libvirt.virDomain:
        return self.conn.lookupByName(VM_NAME)

    def persistent(self) -> str:
        return str(self.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def _forget_domain(conn: libvirt.virConnect) -> None:
    try:
        domain = conn.lookupByName(VM_NAME)
    except libvirt.libvirtError:
        return
    if domain.isActive():
        domain.destroy()
    domain.undefine()


@pytest.fixture
def v1_stack(libvirt_conn: libvirt.virConnect, bridge: str) -> Iterator[Upgraded]:
    """The previous release's stack restored on this host: files, definition, state; the
    VM running (its overlay carries a data pattern written before the boot)."""
    _forget_domain(libvirt_conn)
    shutil.rmtree(ROOT, ignore_errors=True)
    (ROOT / "images").mkdir(parents=True)
    ROOT.chmod(0o755)
    shutil.copy(FIXTURES / "base.qcow2", ROOT / "base.qcow2")
    os.utime(ROOT / "base.qcow2", (BASE_MTIME, BASE_MTIME))
    for name in (f"{VM_NAME}.qcow2", SEED):
        shutil.copy(FIXTURES / name, ROOT / "images" / name)
        (ROOT / "images" / name).chmod(0o600)
    shutil.copy(FIXTURES / "state.json", ROOT / "state.json")
    write_marker(ROOT / "images" / f"{VM_NAME}.qcow2")
    libvirt_conn.defineXML((FIXTURES / "domain.xml").read_text()).create()
    config = {
        "test:vms": json.dumps(VMS),
        "vigo:uri": "qemu:///system",
        "vigo:domainType": "qemu",
        "vigo:imagesDir": str(ROOT / "images"),
    }
    harness = EngineHarness(PROGRAM, state_file=ROOT / "state.json", config=config)
    try:
        yield Upgraded(libvirt_conn, harness)
    finally:
        _forget_domain(libvirt_conn)
        shutil.rmtree(ROOT, ignore_errors=True)


def test_the_first_up_rewrites_marker_and_definition_in_place_and_restarts_nothing(
    v1_stack: Upgraded,
) -> None:
    running_id = v1_stack.domain.ID()
    uuid = v1_stack.domain.UUIDString()
    seed_before = sha256(ROOT / "images" / SEED)
    assert not v1_stack.domain.autostart()  # that release never set the flag

    first = v1_stack.harness.up()

    assert first.ops() == {"compat": "update"}
    assert v1_stack.domain.ID() == running_id, "the guest must not be restarted"
    assert v1_stack.domain.autostart(), "a running VM comes back after a host reboot"
    live = from_xml(v1_stack.persistent())
    assert live.claim is not None and live.claim.endswith("VigoVm::compat")
    assert live.config.uuid == uuid
    assert live.config.mac_address == "52:54:00:14:ab:23"
    assert live.config.console_log_path == console_log_path(VM_NAME)  # at the next boot
    outputs = v1_stack.harness.snapshot().program_resources()[0].plain_outputs()
    assert outputs["console_log_path"] == f"/var/log/libvirt/qemu/{VM_NAME}-console.log"
    assert outputs["uuid"] == uuid
    assert sha256(ROOT / "images" / SEED) == seed_before  # same seed: cloud-init stays put

    assert v1_stack.harness.preview().counts() == {"same": 1}
    assert v1_stack.harness.up().ops() == {"compat": "same"}
    assert v1_stack.domain.ID() == running_id


def test_refresh_and_destroy_run_with_the_old_provider_blob(v1_stack: Upgraded) -> None:
    refreshed = v1_stack.harness.refresh()

    assert refreshed.ops() == {"compat": "read"}
    v1_stack.domain.destroy()
    assert has_marker(ROOT / "images" / f"{VM_NAME}.qcow2")

    v1_stack.harness.destroy()

    with pytest.raises(libvirt.libvirtError):
        v1_stack.conn.lookupByName(VM_NAME)
    assert sorted(p.name for p in (ROOT / "images").iterdir()) == []
    assert (ROOT / "base.qcow2").exists()


def test_a_v1_vm_keeps_its_definition_and_setting_a_maximum_is_one_restart_once(
    v1_stack: Upgraded,
) -> None:
    """No maxima in the previous release: its definition is kept as it is (no ``current``
    vCPUs, no ``<currentMemory>`` of ours). Setting ``max_vcpu`` is one restart; after it,
    ``vcpu`` moves live."""
    running_id = v1_stack.domain.ID()
    v1_stack.harness.up()
    assert v1_stack.domain.ID() == running_id
    persistent = from_xml(v1_stack.persistent()).config
    assert (persistent.max_vcpu, persistent.max_memory_mib) == (None, None)
    outputs = v1_stack.harness.snapshot().program_resources()[0].plain_outputs()
    assert (outputs["restart_pending"], outputs["pending_changes"]) == (False, [])

    def declare(**changes: object) -> None:
        vms = {"compat": {**VMS["compat"], **changes}}
        v1_stack.harness.config["test:vms"] = json.dumps(vms)

    declare(max_vcpu=2)
    assert v1_stack.harness.up().ops() == {"compat": "update"}
    restarted = v1_stack.domain.ID()
    assert restarted != running_id, "a new maximum needs one restart"

    declare(max_vcpu=2, vcpu=2)
    assert v1_stack.harness.up().ops() == {"compat": "update"}
    assert v1_stack.domain.ID() == restarted, "within the maximum: live, no second restart"
    assert from_xml(v1_stack.domain.XMLDesc(0)).config.vcpu == 2
    preview = v1_stack.harness.preview()
    assert preview.counts() == {"same": 1}, preview.summary()
