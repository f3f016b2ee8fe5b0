"""A VigoSnapshot that includes a VigoDisk blocks that disk's growth and delete until the
snapshot is gone (operations spec §5): the snapshot lives inside the disk's file."""

from __future__ import annotations

import pytest
from support.snapshots import SnapshotLab, internal_snapshots

from pulumi_vigo_vm.testing.errors import ProviderError

pytestmark = pytest.mark.libvirt

GIB = 1024**3


def test_a_snapshot_in_a_disk_blocks_its_growth_and_delete_until_it_is_gone(
    snaps_both: SnapshotLab,
) -> None:
    snaps = snaps_both
    snaps.lab.disk("data")
    snaps.lab.vm("vm", state="defined", data_disks=[{"disk": "data"}])
    snaps.snapshot("before", "vm")
    snaps.up()
    disk = snaps.lab.images_dir / "disks" / f"{snaps.lab.name('data')}.qcow2"
    held = f"{snaps.lab.name('vm')}/before"

    snaps.lab.disks["data"]["size_gib"] = 2
    with pytest.raises(ProviderError) as grown:
        snaps.up()
    assert f"{disk} holds 1 internal snapshot(s)" in grown.value.message
    assert held in grown.value.message and "never grown" in grown.value.message
    assert snaps.outputs("data")["virtual_size_bytes"] == GIB

    snaps.lab.disks["data"]["size_gib"] = 1
    del snaps.lab.vms["vm"]["data_disks"]  # the VM no longer uses it; the snapshot still does
    del snaps.lab.disks["data"]
    with pytest.raises(ProviderError) as deleted:
        snaps.up()
    assert held in deleted.value.message and "never deleted" in deleted.value.message
    assert internal_snapshots(disk) == ["before"]

    snaps.lab.disk("data")  # kept while its snapshot goes: no order ties the two deletes
    del snaps.snapshots["before"]
    snaps.up()
    assert internal_snapshots(disk) == []  # libvirt left it in the dropped disk: deleted too

    del snaps.lab.disks["data"]
    assert snaps.up().ops()["data"] == "delete"
    assert not disk.exists()
