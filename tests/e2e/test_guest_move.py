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

import shutil
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from support.twohost import RigHost, TwoHosts

from . import agent
from .support import Guest, console_log_path

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

IMAGES = "/var/lib/libvirt/images"
FILE = "/var/tmp/vigo-written-before-the-move"
BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _domain(host: RigHost, name: str) -> libvirt.virDomain | None:
    try:
        return libvirt.open(host.local_uri).lookupByName(name)
    except libvirt.libvirtError:
        return None


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
    agent.wait_until_answers(domain)
    booted = time.monotonic() - started
    boot_id = agent.read_file(domain, BOOT_ID)
    agent.write_file(domain, FILE, f"written on {a.hostname} in boot {boot_id}")
    written = agent.read_file(domain, FILE)
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
        agent.wait_until_answers(domain)  # the target's libvirtd connects to the agent anew
        assert agent.read_file(domain, BOOT_ID) == boot_id, (
            f"the guest rebooted on {there.hostname}"
        )
        agent.run(domain, "/bin/sh", "-c", "echo 3 > /proc/sys/vm/drop_caches")  # read from disk
        assert agent.read_file(domain, FILE) == written, f"the file on {there.hostname}"
        outputs = guest.outputs()
        assert (outputs["uri"], outputs["observed_state"]) == (uri, "running")
        assert there.path(str(console_log_path(guest.name))).exists(), "its console log"
        holds_nothing(left)

    assert guest.up().counts() == {"same": 1}
    print(
        f"boot to agent {booted:.0f} s, moves {moves[0]:.1f} s and {moves[1]:.1f} s, "
        f"whole test {time.monotonic() - started:.0f} s"
    )
