"""A VM moved to another host by a `uri` change (on_host_change="migrate"), through the engine
harness against the real libvirtd: what one host can prove. (Moves between two hosts are
tests/twohosts, on the rig.)"""

from __future__ import annotations

import pytest
from support.disks import has_marker, write_marker
from support.lab import Lab

pytestmark = pytest.mark.libvirt


MIGRATING = {
    "state": "stopped",
    "on_host_change": "migrate",
    "cloud_init_user_data": "#cloud-config\n",
}


def _stopped_vm(lab: Lab) -> str:
    lab.vm("m", **MIGRATING)
    lab.up()
    write_marker(lab.overlay("m"))
    uuid: str = lab.domain("m").UUIDString()
    return uuid


def _unmoved(lab: Lab, uuid: str) -> None:
    """The VM is where it was, as it was, and the state still names its host."""
    assert lab.domain("m").UUIDString() == uuid
    assert lab.power("m") == "stopped"
    assert has_marker(lab.overlay("m"))
    assert lab.outputs("m")["uri"] == lab.uri


def test_a_second_uri_of_the_same_host_is_refused_naming_both(lab: Lab, ssh_uri: str) -> None:
    """Two URIs of one libvirtd: the "target" holds the very files the move would remove
    from the "source". Refused at preview and at up, nothing touched."""
    uuid = _stopped_vm(lab)
    lab.vm("m", **MIGRATING, uri=ssh_uri)

    for result in (
        lab.harness(raise_on_error=False).preview(),
        lab.harness(raise_on_error=False).up(),
    ):
        said = "\n".join(str(e) for e in result.errors)
        assert "reach the same host" in said, result.summary()
        assert lab.uri in said and "127.0.0.1" in said
    _unmoved(lab, uuid)


def test_an_unreachable_target_is_refused_at_up_and_preview_warns(lab: Lab) -> None:
    uuid = _stopped_vm(lab)
    lab.vm("m", **MIGRATING, uri="qemu+ssh://root@127.0.0.1:1/system")

    previewed = lab.harness(raise_on_error=False).preview()
    assert previewed.ok, previewed.errors
    assert previewed.ops() == {"m": "update"}  # a move: no replace
    result = lab.harness(raise_on_error=False).up()
    said = "\n".join(str(e) for e in result.errors)
    assert "the target host qemu+ssh://root@127.0.0.1:1/system cannot be reached" in said, said
    assert "keep uri=" in said
    _unmoved(lab, uuid)


def test_without_migrate_a_uri_change_is_still_a_replace(lab: Lab, ssh_uri: str) -> None:
    lab.vm("m", state="stopped")
    lab.up()
    lab.vm("m", state="stopped", uri=ssh_uri)
    assert lab.harness().preview().ops() == {"m": "replace"}


def test_a_move_with_a_new_vm_name_is_a_replace_deleting_first(lab: Lab) -> None:
    """Another input that replaces the VM wins: nothing moves, a new VM is made there."""
    _stopped_vm(lab)
    lab.vm("m", **MIGRATING, vm_name=lab.name("n"), uri="qemu+ssh://root@127.0.0.1:1/system")

    previewed = lab.harness().preview()

    assert previewed.ops() == {"m": "replace"}
    assert "delete before replace" in previewed.summary()
