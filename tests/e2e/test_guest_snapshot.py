"""One booted guest proves the operator's "snapshot before, revert if it breaks" (operations
spec §5), with its VigoSnapshots taken locally and over ``qemu+ssh`` (the private sshd, the
same host): the guest writes a marker file, a VigoSnapshot is taken with its memory state,
the guest deletes the marker, ``virsh snapshot-revert`` brings it back, and the VM's next
``up`` replaces nothing. Nothing connects to the guest: the marker is written, deleted and
read through the qemu guest agent, over libvirt (the virtio-serial channel every VigoVm has).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
from support.snapshots import SnapshotLab, internal_snapshots
from support.world import LOCAL_URI

from . import agent
from .support import BOOT_TIMEOUT_S, Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

MARKER = "/var/tmp/vigo-marker"


def _revert(guest: Guest, snapshot: str) -> None:
    """The operator's act, as the README tells it."""
    argv = ["virsh", "-c", LOCAL_URI, "snapshot-revert", guest.name, snapshot]
    subprocess.run(argv, check=True, capture_output=True, timeout=BOOT_TIMEOUT_S)


def test_a_booted_guest_reverted_to_its_snapshot_has_its_marker_back_and_nothing_is_replaced(
    make_guest: Any, ssh_uri: str
) -> None:
    guest: Guest = make_guest("e2e/snapshot")
    snaps = SnapshotLab(guest.lab)
    guest.declare("#cloud-config\n", memory_mib=512)
    started = time.monotonic()
    snaps.up()
    domain = snaps.domain(guest.short)
    agent.wait_until_answers(domain)
    booted = time.monotonic() - started
    overlay = guest.lab.overlay(guest.short)

    agent.write_file(domain, MARKER, "local")
    snaps.snapshot("local", guest.short, description="taken over qemu:///system")
    assert snaps.up().ops()["local"] == "create"
    agent.write_file(domain, MARKER, "over-ssh")
    snaps.snapshot("over-ssh", guest.short, uri=ssh_uri, description="taken over qemu+ssh")
    assert snaps.up().ops()["over-ssh"] == "create"
    for name in ("local", "over-ssh"):
        outputs = snaps.outputs(name)
        assert (outputs["state"], outputs["disks"]) == ("running", [str(overlay)]), name
    assert sorted(internal_snapshots(overlay)) == ["local", "over-ssh"]
    agent.run(domain, "/bin/rm", MARKER)
    assert agent.read_file(domain, MARKER) is None
    identity = guest.outputs()["uuid"]

    for name in ("local", "over-ssh"):
        _revert(guest, name)
        agent.wait_until_answers(domain)
        assert agent.read_file(domain, MARKER) == name, f"the guest as it was at snapshot {name}"
        assert guest.power() == "running"
        ops = snaps.up().ops()
        assert ops == {guest.short: "same", "local": "same", "over-ssh": "same"}, name
        assert guest.outputs()["uuid"] == identity

    del snaps.snapshots["local"], snaps.snapshots["over-ssh"]
    assert snaps.up().ops() == {guest.short: "same", "local": "delete", "over-ssh": "delete"}
    assert internal_snapshots(overlay) == [] and snaps.libvirt_snapshots(guest.short) == {}
    assert agent.read_file(domain, MARKER) == "over-ssh", "the guest runs on after the deletes"
    print(f"boot to agent {booted:.0f} s, whole test {time.monotonic() - started:.0f} s")
