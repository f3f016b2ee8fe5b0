"""A VM never discards snapshots silently (operations spec §5): one this package did not
make blocks the VM's destroy and replace, naming it; a VigoSnapshot given the VM's
``vm_name`` Output is deleted first by the engine, so it does not."""

from __future__ import annotations

import pytest
from support.disks import image_info
from support.snapshots import SnapshotLab, internal_snapshots

from pulumi_vigo_vm.testing.errors import ProviderError

pytestmark = pytest.mark.libvirt

GIB = 1024**3


def test_a_hand_made_snapshot_blocks_the_vm_destroy(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.up()
    snaps.hand_made("vm", "manual")

    with pytest.raises(ProviderError) as caught:
        snaps.harness().destroy()

    assert "did not make: 'manual'" in caught.value.message
    assert snaps.libvirt_snapshots("vm") == {"manual": ""}  # the domain and its snapshot kept
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["manual"]


def test_a_hand_made_snapshot_blocks_the_vm_replace(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.up()
    snaps.hand_made("vm", "manual")
    snaps.lab.vms["vm"]["disk_path"] = str(snaps.lab.base("other.qcow2"))

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    assert "did not make: 'manual'" in caught.value.message
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["manual"]


def test_ours_go_first_on_destroy(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.snapshot("before", "vm")
    snaps.up()

    result = snaps.harness().destroy()

    assert result.ops() == {"before": "delete", "vm": "delete"}
    snaps.lab.assert_clean()


def test_a_replace_deletes_ours_first_and_takes_it_anew(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.snapshot("before", "vm")
    snaps.up()
    uuid = snaps.lab.outputs("vm")["uuid"]
    snaps.lab.vms["vm"]["disk_path"] = str(snaps.lab.base("other.qcow2"))

    result = snaps.up()

    assert result.ops() == {"vm": "replace", "before": "replace"}
    assert snaps.lab.outputs("vm")["uuid"] != uuid
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["before"]


def test_a_snapshot_not_wired_to_the_vm_blocks_its_destroy_until_it_is_gone(
    snaps: SnapshotLab,
) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.up()
    snaps.snapshots["loose"] = {"vm_name": snaps.lab.name("vm")}  # a plain string
    snaps.up()
    snaps.lab.vms["vm"]["state"] = "absent"

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    assert "still holds the VigoSnapshots 'loose'" in caught.value.message
    assert "vm_name=vm.vm_name" in caught.value.message


@pytest.mark.parametrize("state", ["stopped", "running"])
def test_a_snapshot_blocks_the_root_disks_growth_until_it_is_gone(
    snaps: SnapshotLab, state: str
) -> None:
    """qcow2 internal snapshots and a resize do not mix (a revert would bring the old size
    back under a grown filesystem): a larger disk_size_gib is refused, naming the snapshot
    and the fix, before anything changes, by qemu-img (stopped) or through qemu (running)."""
    snaps.lab.vm("vm", state=state, disk_size_gib=1)
    snaps.snapshot("before", "vm")
    snaps.up()
    overlay = snaps.lab.overlay("vm")
    snaps.lab.vms["vm"].update(disk_size_gib=2, memory_mib=80)  # and a redefine with it

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    message = caught.value.message
    assert f"disk_size_gib: {overlay} holds 1 internal snapshot(s)" in message
    assert f"{snaps.lab.name('vm')}/before" in message and "never grown" in message
    assert "remove their VigoSnapshot, or virsh snapshot-delete" in message
    assert "in an up of their own" in message
    assert image_info(overlay)["virtual-size"] == GIB
    assert internal_snapshots(overlay) == ["before"]
    assert snaps.lab.domain("vm").maxMemory() == 64 * 1024  # not redefined either
    assert snaps.lab.power("vm") == ("running" if state == "running" else "stopped")

    snaps.lab.vms["vm"].update(disk_size_gib=1, memory_mib=64)  # the engine deletes last:
    del snaps.snapshots["before"]  # the snapshot goes in an up of its own
    assert snaps.up().ops() == {"vm": "same", "before": "delete"}
    snaps.lab.vms["vm"]["disk_size_gib"] = 2
    assert snaps.up().ops() == {"vm": "update"}
    assert image_info(overlay)["virtual-size"] == 2 * GIB
