"""VigoSnapshot's create, refusals, refresh and delete on a real libvirtd, through the
engine harness (operations spec §5). The VMs are defined or stopped: an offline snapshot is
``qemu-img snapshot`` under libvirt, no boot needed."""

from __future__ import annotations

import pytest
from support.snapshots import SnapshotLab, internal_snapshots

from pulumi_vigo_vm.testing.errors import ProviderError

pytestmark = pytest.mark.libvirt

EFI_MEMORY_MIB = 128  # OVMF wants more than a BIOS guest's 64 MiB


def test_a_stopped_vm_is_snapshotted_offline_and_only_ours_is_deleted(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="stopped")
    snaps.lab.disk("data")
    snaps.lab.vms["vm"]["data_disks"] = [{"disk": "data"}]
    snaps.snapshot("before", "vm", description="before the upgrade")
    snaps.up()

    overlay, data = snaps.lab.overlay("vm"), snaps.lab.images_dir / "disks"
    data_disk = data / f"{snaps.lab.name('data')}.qcow2"
    outputs = snaps.outputs("before")
    assert outputs["state"] == "shutoff"
    assert outputs["disks"] == [str(overlay), str(data_disk)]
    assert outputs["created_at"].endswith("+00:00")
    described = snaps.libvirt_snapshots("vm")["before"]
    assert described.startswith("before the upgrade\npulumi_vigo_vm claim: state:")
    assert internal_snapshots(overlay) == ["before"]
    assert internal_snapshots(data_disk) == ["before"]
    assert snaps.harness().preview().ops() == {"vm": "same", "data": "same", "before": "same"}

    del snaps.snapshots["before"]
    assert snaps.up().ops()["before"] == "delete"
    assert snaps.libvirt_snapshots("vm") == {}
    assert internal_snapshots(overlay) == [] and internal_snapshots(data_disk) == []


def test_the_description_is_rewritten_in_place(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.snapshot("before", "vm", description="one")
    snaps.up()
    created = snaps.outputs("before")["created_at"]

    snaps.snapshots["before"]["description"] = "two"
    assert snaps.up().ops()["before"] == "update"

    assert snaps.libvirt_snapshots("vm")["before"].startswith("two\npulumi_vigo_vm claim: ")
    assert snaps.outputs("before")["created_at"] == created
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["before"]


def test_a_raw_writable_disk_is_refused_and_nothing_is_made(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.lab.disk("raw", format="raw")
    snaps.lab.vms["vm"]["data_disks"] = [{"disk": "raw", "format": "raw"}]
    snaps.up()
    snaps.snapshot("before", "vm")

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    message = caught.value.message
    assert "not qcow2" in message and f"{snaps.lab.name('raw')}.raw" in message
    assert snaps.libvirt_snapshots("vm") == {}
    assert internal_snapshots(snaps.lab.overlay("vm")) == []


def test_a_name_in_use_is_refused_and_the_other_snapshot_kept(snaps: SnapshotLab) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.up()
    snaps.hand_made("vm", "before")
    snaps.snapshot("before", "vm")

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    assert "already has a snapshot named 'before'" in caught.value.message
    assert snaps.libvirt_snapshots("vm") == {"before": ""}
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["before"]  # the hand-made one


def test_a_vanished_snapshot_is_gone_on_refresh_and_a_foreign_one_survives_delete(
    snaps: SnapshotLab,
) -> None:
    snaps.lab.vm("vm", state="defined")
    snaps.snapshot("before", "vm")
    snaps.up()
    snaps.domain("vm").snapshotLookupByName("before").delete(0)  # deleted by hand

    refreshed = snaps.harness().refresh()

    assert refreshed.ops()["before"] == "delete"  # the engine drops it from state
    assert snaps.up().ops()["before"] == "create"  # taken anew
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["before"]

    snaps.domain("vm").snapshotLookupByName("before").delete(0)
    snaps.hand_made("vm", "before")  # someone else's, by the same name
    del snaps.snapshots["before"]
    snaps.up()
    assert snaps.libvirt_snapshots("vm") == {"before": ""}


def test_a_running_vm_is_snapshotted_with_its_memory_state(snaps: SnapshotLab) -> None:
    """A domain on a blank disk still runs (its firmware finds nothing to boot): enough for
    qemu to save its memory state; the read-only seed ISO is left out."""
    snaps.lab.vm("vm", state="running", cloud_init_user_data="#cloud-config\n")
    snaps.snapshot("live", "vm")
    snaps.up()

    outputs = snaps.outputs("live")
    assert outputs["state"] == "running"
    assert outputs["disks"] == [str(snaps.lab.overlay("vm"))]
    xml = snaps.domain("vm").snapshotLookupByName("live").getXMLDesc(0)
    assert "<memory snapshot='internal'/>" in xml
    assert snaps.lab.power("vm") == "running"  # paused while saved, then resumed
    assert internal_snapshots(snaps.lab.overlay("vm")) == ["live"]


def test_a_running_efi_guest_is_refused_and_nothing_is_made_until_it_is_stopped(
    snaps: SnapshotLab,
) -> None:
    """qemu cannot snapshot pflash: a running EFI guest (its firmware running, no OS needed)
    is refused before libvirt is asked; stopped, the same VM is snapshotted offline."""
    snaps.lab.disk("data")
    snaps.lab.vm("vm", firmware="efi", memory_mib=EFI_MEMORY_MIB, data_disks=[{"disk": "data"}])
    snaps.up()
    assert snaps.lab.power("vm") == "running"
    snaps.snapshot("live", "vm")

    with pytest.raises(ProviderError) as caught:
        snaps.up()

    message = caught.value.message
    assert f"{snaps.lab.name('vm')} on qemu:///system is a running EFI guest" in message
    assert "(pflash)" in message and 'state="stopped"' in message
    assert snaps.libvirt_snapshots("vm") == {}
    data_disk = snaps.lab.images_dir / "disks" / f"{snaps.lab.name('data')}.qcow2"
    disks = (snaps.lab.overlay("vm"), data_disk)
    assert [internal_snapshots(disk) for disk in disks] == [[], []]
    assert snaps.lab.power("vm") == "running"  # left as it was

    snaps.lab.vms["vm"]["state"] = "stopped"
    assert snaps.up().ops() == {"data": "same", "vm": "update", "live": "create"}
    assert snaps.outputs("live")["state"] == "shutoff"
    assert [internal_snapshots(disk) for disk in disks] == [["live"], ["live"]]
