"""After ``virsh snapshot-revert`` (the operator's act) the VM's next preview shows at most a
run-state update, never a replace: a revert leaves the overlay's path and backing file, the
seed and the data disks' files where they are (operations spec §5)."""

from __future__ import annotations

import libvirt
import pytest
from support.snapshots import SnapshotLab

pytestmark = pytest.mark.libvirt


def test_a_reverted_stopped_vm_is_converged(snaps: SnapshotLab) -> None:
    snaps.lab.disk("data")
    snaps.lab.vm(
        "vm", state="stopped", cloud_init_user_data="#cloud-config\n", data_disks=[{"disk": "data"}]
    )
    snaps.snapshot("before", "vm")
    snaps.up()
    domain = snaps.domain("vm")

    domain.revertToSnapshot(domain.snapshotLookupByName("before"), 0)

    assert snaps.harness().preview().ops() == {"data": "same", "vm": "same", "before": "same"}


def test_a_reverted_running_vm_previews_a_run_state_update_only(snaps: SnapshotLab) -> None:
    """A blank-disk domain runs (nothing to boot): its memory snapshot reverted paused."""
    snaps.lab.vm("vm", state="running")
    snaps.snapshot("live", "vm")
    snaps.up()
    domain = snaps.domain("vm")

    flags = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
    domain.revertToSnapshot(domain.snapshotLookupByName("live"), flags)

    preview = snaps.harness().preview()
    assert preview.ops() == {"vm": "update", "live": "same"}
    assert "state" in preview.step("vm").describe()
    assert snaps.up().ops() == {"vm": "update", "live": "same"}
    assert snaps.lab.power("vm") == "running"
    assert snaps.harness().preview().ops() == {"vm": "same", "live": "same"}
