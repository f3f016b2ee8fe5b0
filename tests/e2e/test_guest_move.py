"""One booted guest moves to the other host and back by two `up`s that each change only its
``uri`` (``on_host_change="migrate"``, operations spec §6), on the two-host rig
(tests/support/twohost): A is this machine's libvirtd, B a second one in its own namespaces,
reached over SSH. The guest writes a file and its boot ID before the first move; after each
move the guest, asked on whichever host it runs, has the same boot ID (it never rebooted: a
live move) and the same file, and the host it left holds nothing of it.

Nothing connects to the guest: the file and the boot ID are read through the qemu guest
agent, over libvirt on the host that runs the guest. The guest has no NIC (B has no bridge);
its own files live in an images directory of each host's own under /var/lib/libvirt/images,
the test image in /var/tmp, which both hosts share (a fleet's shared base store).
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import libvirt_qemu
import pytest
from support.twohost import RigHost, TwoHosts

from .support import BOOT_TIMEOUT_S, Guest, console_log_path

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

IMAGES = "/var/lib/libvirt/images"
FILE = "/var/tmp/vigo-written-before-the-move"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
AGENT_TIMEOUT_S = 30


def _domain(host: RigHost, name: str) -> libvirt.virDomain | None:
    try:
        return libvirt.open(host.local_uri).lookupByName(name)
    except libvirt.libvirtError:
        return None


def _agent(domain: libvirt.virDomain, command: str, **arguments: Any) -> Any:
    """One guest agent command through libvirt (of the host running the guest); its return."""
    request = json.dumps({"execute": command, "arguments": arguments})
    reply = libvirt_qemu.qemuAgentCommand(domain, request, AGENT_TIMEOUT_S, 0)
    return json.loads(reply)["return"]


def _wait_for_agent(domain: libvirt.virDomain) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while True:
        try:
            _agent(domain, "guest-ping")
            return
        except libvirt.libvirtError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"the guest agent did not answer within {BOOT_TIMEOUT_S} s: {exc}")
        time.sleep(2)


def _read(domain: libvirt.virDomain, path: str) -> str:
    handle = _agent(domain, "guest-file-open", path=path, mode="r")
    read = _agent(domain, "guest-file-read", handle=handle, count=4096)
    _agent(domain, "guest-file-close", handle=handle)
    return base64.b64decode(read["buf-b64"]).decode()


def _write(domain: libvirt.virDomain, path: str, text: str) -> None:
    """Write ``path`` in the guest and sync it to the guest's disk."""
    handle = _agent(domain, "guest-file-open", path=path, mode="w")
    _agent(
        domain,
        "guest-file-write",
        handle=handle,
        **{"buf-b64": base64.b64encode(text.encode()).decode()},
    )
    _agent(domain, "guest-file-flush", handle=handle)
    _agent(domain, "guest-file-close", handle=handle)
    _run(domain, "/bin/sync")


def _run(domain: libvirt.virDomain, path: str, *args: str) -> None:
    pid = _agent(domain, "guest-exec", path=path, arg=list(args))["pid"]
    deadline = time.monotonic() + AGENT_TIMEOUT_S
    while not (status := _agent(domain, "guest-exec-status", pid=pid))["exited"]:
        assert time.monotonic() < deadline, f"{path} did not end in the guest"
        time.sleep(0.5)
    assert status["exitcode"] == 0, status


@pytest.fixture
def moving_guest(make_guest: Any, two_hosts: TwoHosts) -> Iterator[tuple[Guest, str]]:
    """The guest and its images directory (the same path on each host, not shared); what
    is left of it on B is removed after (A's by the guest's own lab)."""
    guest: Guest = make_guest("e2e/move")
    images = f"{IMAGES}/{guest.lab.prefix}"
    yield guest, images
    left = _domain(two_hosts.b, guest.name)
    if left is not None:
        if left.isActive():
            left.destroy()
        left.undefine()
    for host in (two_hosts.a, two_hosts.b):
        shutil.rmtree(host.path(images), ignore_errors=True)


def test_a_booted_guest_moves_live_to_the_other_host_and_back_unrebooted_and_whole(
    moving_guest: tuple[Guest, str], two_hosts: TwoHosts
) -> None:
    guest, images = moving_guest
    a, b = two_hosts.a, two_hosts.b

    def declare(uri: str) -> None:
        guest.declare(
            "#cloud-config\n",
            uri=uri,
            images_dir=images,
            on_host_change="migrate",
            memory_mib=512,
            network_bridge=None,
        )

    def holds_nothing(host: RigHost) -> None:
        assert _domain(host, guest.name) is None, f"{host.hostname} still has the domain"
        root = host.path(images)
        left = sorted(p.name for p in root.iterdir()) if root.exists() else []
        assert left == [], f"{host.hostname} still has {left}"
        log = host.path(str(console_log_path(guest.name)))
        assert not log.exists(), f"{host.hostname} still has {log}"

    started = time.monotonic()
    declare(a.local_uri)
    guest.up()
    domain = _domain(a, guest.name)
    assert domain is not None
    _wait_for_agent(domain)
    booted = time.monotonic() - started
    boot_id = _read(domain, BOOT_ID)
    _write(domain, FILE, f"written on {a.hostname} in boot {boot_id}")
    written = _read(domain, FILE)
    uuid = guest.outputs()["uuid"]
    moves: list[float] = []

    for there, uri, left in ((b, b.ssh_uri, a), (a, a.local_uri, b)):
        declare(uri)
        began = time.monotonic()
        assert guest.up().ops() == {guest.short: "update"}, f"to {there.hostname}"
        moves.append(time.monotonic() - began)
        domain = _domain(there, guest.name)
        assert domain is not None and domain.isActive(), f"not running on {there.hostname}"
        assert domain.UUIDString() == uuid
        assert _read(domain, BOOT_ID) == boot_id, f"the guest rebooted on {there.hostname}"
        _run(domain, "/bin/sh", "-c", "echo 3 > /proc/sys/vm/drop_caches")  # read from disk
        assert _read(domain, FILE) == written, f"the file on {there.hostname}"
        outputs = guest.outputs()
        assert (outputs["uri"], outputs["observed_state"]) == (uri, "running")
        assert there.path(str(console_log_path(guest.name))).exists(), "its console log"
        holds_nothing(left)

    assert guest.up().counts() == {"same": 1}
    print(
        f"boot to agent {booted:.0f} s, moves {moves[0]:.1f} s and {moves[1]:.1f} s, "
        f"whole test {time.monotonic() - started:.0f} s"
    )
