"""One booted guest proves the operator's "snapshot before, revert if it breaks" (operations
spec §5), with its VigoSnapshots taken locally and over ``qemu+ssh`` (the private sshd, the
same host): the guest writes a marker file, a VigoSnapshot is taken with its memory state,
the guest deletes the marker, ``virsh snapshot-revert`` brings it back, and the VM's next
``up`` replaces nothing. Nothing connects to the guest: the marker is written, deleted and
read through the qemu guest agent, over libvirt (the virtio-serial channel every VigoVm has).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from typing import Any

import libvirt
import libvirt_qemu
import pytest
from support.snapshots import SnapshotLab, internal_snapshots
from support.world import LOCAL_URI

from .support import BOOT_TIMEOUT_S, Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

MARKER = "/var/tmp/vigo-marker"
AGENT_TIMEOUT_S = 30


def _agent(domain: libvirt.virDomain, command: str, **arguments: Any) -> Any:
    """One guest agent command through libvirt; its ``return``."""
    request = json.dumps({"execute": command, "arguments": arguments})
    reply = libvirt_qemu.qemuAgentCommand(domain, request, AGENT_TIMEOUT_S, 0)
    return json.loads(reply)["return"]


def _wait_for_agent(domain: libvirt.virDomain) -> None:
    """Until the agent answers: at boot, and after a revert (libvirt reconnects to it)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while True:
        try:
            _agent(domain, "guest-ping")
            return
        except libvirt.libvirtError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"the guest agent did not answer within {BOOT_TIMEOUT_S} s: {exc}")
        time.sleep(2)


def _write_marker(domain: libvirt.virDomain, text: str) -> None:
    handle = _agent(domain, "guest-file-open", path=MARKER, mode="w")
    _agent(domain, "guest-file-write", handle=handle, **{"buf-b64": _b64(text)})
    _agent(domain, "guest-file-close", handle=handle)


def _read_marker(domain: libvirt.virDomain) -> str | None:
    """The marker's text as the guest reads it; None when the guest has no such file."""
    try:
        handle = _agent(domain, "guest-file-open", path=MARKER, mode="r")
    except libvirt.libvirtError as exc:
        assert "No such file" in str(exc), exc
        return None
    read = _agent(domain, "guest-file-read", handle=handle, count=4096)
    _agent(domain, "guest-file-close", handle=handle)
    return base64.b64decode(read["buf-b64"]).decode()


def _delete_marker(domain: libvirt.virDomain) -> None:
    """``rm`` run in the guest (guest-exec), waited for."""
    pid = _agent(domain, "guest-exec", path="/bin/rm", arg=[MARKER])["pid"]
    deadline = time.monotonic() + AGENT_TIMEOUT_S
    while not (status := _agent(domain, "guest-exec-status", pid=pid))["exited"]:
        assert time.monotonic() < deadline, "rm did not end in the guest"
        time.sleep(0.5)
    assert status["exitcode"] == 0, status


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


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
    _wait_for_agent(domain)
    booted = time.monotonic() - started
    overlay = guest.lab.overlay(guest.short)

    _write_marker(domain, "local")
    snaps.snapshot("local", guest.short, description="taken over qemu:///system")
    assert snaps.up().ops()["local"] == "create"
    _write_marker(domain, "over-ssh")
    snaps.snapshot("over-ssh", guest.short, uri=ssh_uri, description="taken over qemu+ssh")
    assert snaps.up().ops()["over-ssh"] == "create"
    for name in ("local", "over-ssh"):
        outputs = snaps.outputs(name)
        assert (outputs["state"], outputs["disks"]) == ("running", [str(overlay)]), name
    assert sorted(internal_snapshots(overlay)) == ["local", "over-ssh"]
    _delete_marker(domain)
    assert _read_marker(domain) is None
    identity = guest.outputs()["uuid"]

    for name in ("local", "over-ssh"):
        _revert(guest, name)
        _wait_for_agent(domain)
        assert _read_marker(domain) == name, f"the guest as it was at snapshot {name}"
        assert guest.power() == "running"
        ops = snaps.up().ops()
        assert ops == {guest.short: "same", "local": "same", "over-ssh": "same"}, name
        assert guest.outputs()["uuid"] == identity

    del snaps.snapshots["local"], snaps.snapshots["over-ssh"]
    assert snaps.up().ops() == {guest.short: "same", "local": "delete", "over-ssh": "delete"}
    assert internal_snapshots(overlay) == [] and snaps.libvirt_snapshots(guest.short) == {}
    assert _read_marker(domain) == "over-ssh", "the guest runs on after the deletes"
    print(f"boot to agent {booted:.0f} s, whole test {time.monotonic() - started:.0f} s")
