"""The spec's diff table against a real libvirtd: what preview says, and what up then does."""

from __future__ import annotations

import subprocess

import libvirt
import pytest
from support.disks import has_marker, image_info, qemu_img, write_marker
from support.lab import Lab

from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt

USER_DATA = "#cloud-config\nhostname: first\n"


def test_user_data_edit_replaces_with_a_new_seed_and_a_fresh_overlay(lab: Lab) -> None:
    lab.vm("a", state="stopped", cloud_init_user_data=USER_DATA)
    lab.up()
    old_seed = lab.seeds("a")
    write_marker(lab.overlay("a"))

    lab.vm("a", state="stopped", cloud_init_user_data="#cloud-config\nhostname: second\n")
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces), step.delete_before_replace) == (
        "replace",
        ["cloud_init_user_data"],
        True,
    )
    assert lab.up().ops() == {"a": "replace"}

    new_seed = lab.seeds("a")
    assert len(new_seed) == 1 and new_seed != old_seed, "seed must be rebuilt under a new name"
    assert not has_marker(lab.overlay("a")), "cloud-init must run again on a fresh overlay"
    assert lab.harness().up().counts() == {"same": 1}


@pytest.mark.transport
def test_base_change_rebuilds_the_overlay_on_the_new_base(lab: Lab) -> None:
    lab.vm("a", state="defined")
    lab.up()
    other = lab.base("other.qcow2", size="128M")

    lab.vm("a", state="defined", disk_path=str(other))
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces), step.delete_before_replace) == (
        "replace",
        ["disk_path"],
        True,
    )
    lab.up()

    assert image_info(lab.overlay("a"))["backing-filename"] == str(other)
    assert image_info(lab.overlay("a"))["virtual-size"] == 128 * 1024**2


def test_raw_base_gets_an_explicit_raw_backing_format(lab: Lab) -> None:
    raw = lab.base("base.raw", fmt="raw")
    lab.vm("a", state="defined", disk_path=str(raw))
    outputs = lab.up().outputs
    info = image_info(lab.overlay("a"))
    assert (info["backing-filename"], info["backing-filename-format"]) == (str(raw), "raw")
    assert lab.harness().snapshot().resources  # recorded
    assert outputs["a"]["observed_state"] == "stopped"


def test_memory_and_vcpu_change_redefines_keeping_uuid_mac_and_overlay(lab: Lab) -> None:
    lab.vm("a", network_bridge=lab.bridge)
    lab.up()
    before = from_xml(lab.domain("a").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config
    overlay_inode = lab.overlay("a").stat().st_ino
    old_id = lab.domain("a").ID()

    lab.vm("a", network_bridge=lab.bridge, memory_mib=96, vcpu=2)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()

    after = from_xml(lab.domain("a").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config
    assert (after.memory_mib, after.vcpu) == (96, 2)
    assert (after.uuid, after.mac_address) == (before.uuid, before.mac_address)
    assert lab.overlay("a").stat().st_ino == overlay_inode
    assert lab.power("a") == "running"
    assert lab.domain("a").ID() != old_id, "a running VM restarts to pick up its new definition"
    live = from_xml(lab.domain("a").XMLDesc()).config
    assert live.memory_mib == 96, "the running guest uses the new definition"


@pytest.mark.transport
def test_disk_grows_in_place_and_shrinking_replaces(lab: Lab) -> None:
    lab.vm("a", state="stopped", disk_size_gib=1)
    lab.up()
    write_marker(lab.overlay("a"))

    lab.vm("a", state="stopped", disk_size_gib=2)
    assert lab.preview().step("a").op == "update"
    lab.up()
    assert image_info(lab.overlay("a"))["virtual-size"] == 2 * 1024**3
    assert has_marker(lab.overlay("a"))

    lab.vm("a", state="running", disk_size_gib=3)  # grown while qemu holds the image
    lab.up()
    assert image_info(lab.overlay("a"))["virtual-size"] == 3 * 1024**3
    assert has_marker(lab.overlay("a"))

    lab.vm("a", state="running", disk_size_gib=1)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("replace", ["disk_size_gib"])


def test_out_of_band_drift_is_seen_by_preview_and_fixed_by_up(lab: Lab) -> None:
    lab.vm("a", state="running", cloud_init_user_data=USER_DATA)
    lab.up()
    write_marker_later = lab.overlay("a")

    cases = {
        "domain stopped": lambda: lab.domain("a").destroy(),
        "domain undefined": lambda: (lab.domain("a").destroy(), lab.domain("a").undefine()),
        "seed ISO deleted": lambda: lab.seeds("a")[0].unlink(),
        "memory changed with virsh": lambda: subprocess.run(
            ["virsh", "-q", "setmaxmem", lab.name("a"), "80M", "--config"], check=True
        ),
    }
    for what, drift in cases.items():
        drift()
        step = lab.preview().step("a")
        assert (step.op, list(step.replaces)) == ("update", []), what
        assert lab.up().ops() == {"a": "update"}, what
        assert lab.power("a") == "running", what
        assert len(lab.seeds("a")) == 1, what
        config = from_xml(lab.domain("a").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config
        assert config.memory_mib == 64, what
        assert lab.harness().preview().counts() == {"same": 1}, f"not converged after {what}"
    assert write_marker_later.exists()


def test_autostart_flag_changed_on_the_host_is_set_back_without_a_restart(lab: Lab) -> None:
    lab.vm("a", state="running")
    lab.up()
    domain = lab.domain("a")
    assert domain is not None and domain.autostart()
    running_id = domain.ID()

    domain.setAutostart(0)  # virsh autostart --disable
    step = lab.preview().step("a")
    assert (step.op, step.diffs) == ("update", ("autostart",))
    assert lab.up().ops() == {"a": "update"}

    assert domain.autostart()
    assert domain.ID() == running_id, "setting the flag must not restart the guest"
    lab.vm("a", state="running", autostart=False)  # the user's own choice: cleared, no restart
    assert lab.up().ops() == {"a": "update"}
    assert not domain.autostart()
    assert domain.ID() == running_id
    assert lab.preview().counts() == {"same": 1}


def test_a_hand_added_vnc_display_is_no_drift_and_outlives_a_redefine(lab: Lab) -> None:
    """Devices of kinds the package does not model are the operator's (operations §1)."""
    lab.vm("a", state="defined")
    lab.up()
    domain = lab.domain("a")
    assert domain is not None
    edited = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).replace(
        "</devices>",
        "<graphics type='vnc' autoport='yes'/><video><model type='vga'/></video></devices>",
    )
    lab.live_conn().defineXML(edited)  # what virsh edit does

    assert lab.preview().counts() == {"same": 1}
    lab.vm("a", state="defined", memory_mib=80)
    assert lab.up().ops() == {"a": "update"}

    persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert from_xml(persistent).config.memory_mib == 80
    assert "<graphics type='vnc'" in persistent
    assert "<model type='vga'" in persistent
    assert lab.preview().counts() == {"same": 1}


@pytest.mark.transport
def test_overlay_deleted_or_rebased_out_of_band_is_a_replace(lab: Lab) -> None:
    lab.vm("a", state="stopped")
    lab.up()

    lab.overlay("a").unlink()
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces), step.delete_before_replace) == (
        "replace",
        ["disk_path"],
        True,
    )
    lab.up()
    assert image_info(lab.overlay("a"))["backing-filename"] == str(lab.base())

    other = lab.base("other.qcow2")
    qemu_img("rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", str(other), str(lab.overlay("a")))
    assert lab.preview().step("a").op == "replace"
    lab.up()
    assert image_info(lab.overlay("a"))["backing-filename"] == str(lab.base())
    assert lab.harness().preview().counts() == {"same": 1}


def test_refresh_of_a_vanished_domain_drops_it_and_up_keeps_its_overlay_until_moved(
    lab: Lab,
) -> None:
    lab.vm("a", state="defined")
    lab.up()
    write_marker(lab.overlay("a"))
    lab.domain("a").undefine()

    result = lab.harness().refresh()

    assert result.ops() == {"a": "delete"}
    assert lab.harness().snapshot().program_resources() == []
    # Neither a domain of ours nor the state vouches for the overlay any more: it may be
    # anyone's data now, so it is neither adopted nor overwritten.
    with pytest.raises(ProviderError, match=r"no domain of this VM references it"):
        lab.up()
    assert has_marker(lab.overlay("a"))
    lab.overlay("a").rename(lab.root / "kept.qcow2")
    assert lab.up().ops() == {"a": "create"}
    assert lab.power("a") == "stopped"


def test_renaming_a_vm_removes_the_old_one_then_builds_the_new(lab: Lab) -> None:
    lab.vm("a", state="defined")
    lab.up()
    old_name = lab.name("a")

    lab.vm("a", state="defined", vm_name=lab.name("b"))
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces), step.delete_before_replace) == (
        "replace",
        ["vm_name"],
        True,
    )
    lab.up()

    assert lab.domain("b") is not None
    assert lab.domain("a") is None, f"{old_name} must be removed after the replace"
    assert [p.name for p in lab.images_dir.iterdir()] == [f"{lab.name('b')}.qcow2"]


def test_moving_a_vm_to_another_uri_replaces_it_delete_first(lab: Lab, ssh_uri: str) -> None:
    """From qemu:///system to qemu+ssh: one run crosses both transports."""
    lab.vm("a", state="defined", uri=lab.uri)
    lab.up()
    old_uuid = lab.domain("a").UUIDString()

    lab.vm("a", state="defined", uri=ssh_uri)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces), step.delete_before_replace) == ("replace", ["uri"], True)
    result = lab.up()

    assert result.outputs["a"]["observed_state"] == "stopped"
    assert lab.domain("a").UUIDString() != old_uuid  # a new VM: new identity
    assert lab.harness().preview().counts() == {"same": 1}
