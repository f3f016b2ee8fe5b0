"""What a guest (or its link) writes, read against a real libvirtd without booting an OS:
the guests' disks are blank, and each test plays the guest's part through a real host-side
record instead (a console log line, a DHCP lease in the network's dnsmasq status file, a
neighbour entry) and checks that the provider reads it only where it may (its own link)
and in bounded time (docs/safety/guestout.md).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab
from support.network import IsolatedNetwork

from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.virt.hypervisor import AGENT_TIMEOUT_S
from pulumi_vigo_vm.vm.filenames import console_log_path
from pulumi_vigo_vm.vm.guest.console import MAX_CONSOLE_BYTES, MAX_LINE_CHARS

pytestmark = pytest.mark.libvirt

DNSMASQ_STATE = Path("/var/lib/libvirt/dnsmasq")
LIBVIRT_STATE = Path("/run/libvirt/qemu")
NEIGHBOUR = "198.19.251.{}"
"""Addresses the tests' neighbour entries name (198.18.0.0/15; no packet is ever sent)."""


def _mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


@contextlib.contextmanager
def _once_running(
    conn: libvirt.virConnect, name: str, act: Callable[[], None]
) -> Iterator[dict[str, float]]:
    """Run ``act()`` once, as soon as domain ``name`` runs (the guest's first output), in
    a thread; yields a dict that gets ``started`` (monotonic) then."""
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            with contextlib.suppress(libvirt.libvirtError):
                if conn.lookupByName(name).isActive():
                    seen["started"] = time.monotonic()
                    act()
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


@pytest.mark.transport
def test_a_waits_deadline_holds_while_a_hostile_console_is_parsed(lab: Lab) -> None:
    """The guest fills its console with the largest window of ``ci-info`` title lines of
    ``+`` (each cost 1.8 s to parse before, so each look half an hour): the wait still
    fails at its deadline, within a few seconds of slack."""
    lab.vm("a", network_bridge=lab.bridge, wait_for="ready", wait_timeout_s=3)
    line = b"[  9.0] cloud-init[1]: ci-info: " + b"+" * (MAX_LINE_CHARS - 40) + b"x\n"
    hostile = line * (MAX_CONSOLE_BYTES // len(line))
    log = console_log_path(lab.name("a"))

    def print_hostile_console() -> None:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, hostile)
        finally:
            os.close(fd)

    with _once_running(lab.conn, lab.name("a"), print_hostile_console) as seen:
        with pytest.raises(ProviderError, match="not within 3 s"):
            lab.up()
        ended = time.monotonic()

    assert ended - seen["started"] < 3 + 20  # the deadline, a look, the engine's exit
    assert lab.power("a") == "running"


@pytest.mark.transport
def test_agent_calls_carry_a_response_timeout(lab: Lab) -> None:
    """Every agent call sets the domain's agent response timeout first (libvirt's default
    blocks forever), which libvirtd records in the running domain's status.

    No stalled agent is faked: libvirt talks to the agent only once the guest opened its
    virtio-serial port, so without a booted guest there is no agent session, real or fake,
    to stall. What runs here is the real plumbing: a running domain with the agent channel
    and no agent answers at once (unavailable), and libvirtd holds the timeout."""
    lab.vm("a", network_bridge=lab.bridge, address_source="agent")
    started = time.monotonic()
    lab.up()
    assert time.monotonic() - started < 120
    status = (LIBVIRT_STATE / f"{lab.name('a')}.xml").read_text()
    assert f"<agentTimeout>{AGENT_TIMEOUT_S}</agentTimeout>" in status
    assert lab.outputs("a").get("ip_address") is None


@contextlib.contextmanager
def _lease(net: IsolatedNetwork, mac: str, address: str) -> Iterator[None]:
    """A lease for ``mac`` in the network's dnsmasq status file, which libvirt's
    ``DHCPLeases`` reads (as its leases helper writes it for a real DHCP grant); the file
    is put back afterwards."""
    status = DNSMASQ_STATE / f"{net.bridge}.status"
    before = status.read_text() if status.exists() else None
    leases = json.loads(before) if before and before.strip() else []
    leases.append(
        {
            "ip-address": address,
            "mac-address": mac,
            "hostname": "guest",
            "client-id": "01:" + mac,
            "expiry-time": int(time.time()) + 3600 + 60,
        }
    )
    status.write_text(json.dumps(leases))
    try:
        yield
    finally:
        if before is None:
            status.unlink(missing_ok=True)
        else:
            status.write_text(before)


def test_a_nic_declared_in_nics_gets_its_lease(lab: Lab, isolated_network: IsolatedNetwork) -> None:
    """``address_source="lease"`` for a NIC in ``nics`` (not the ``network`` shorthand):
    its network's leases are asked (before: never, so the wait always timed out)."""
    mac = _mac()
    address = str(isolated_network.subnet.network_address + 77)
    lab.vm(
        "a",
        nics=[{"network": isolated_network.name, "mac": mac}],
        address_source="lease",
        wait_for="ip",
        wait_timeout_s=20,
    )
    with _lease(isolated_network, mac, address):
        lab.up()

    assert lab.outputs("a")["ip_address"] == address


def test_a_lease_counts_only_for_a_nic_on_that_network(
    lab: Lab, isolated_network: IsolatedNetwork
) -> None:
    """The network holds leases for both MACs of a VM whose second NIC is on a host bridge:
    only the first NIC's is its (the second's is a record of another link)."""
    on_network, on_bridge = _mac(), _mac()
    first, other = (str(isolated_network.subnet.network_address + n) for n in (78, 79))
    lab.vm(
        "a",
        nics=[
            {"network": isolated_network.name, "mac": on_network},
            {"bridge": lab.bridge, "mac": on_bridge},
        ],
        address_source="lease",
    )
    with _lease(isolated_network, on_network, first), _lease(isolated_network, on_bridge, other):
        lab.up()

    assert lab.outputs("a")["ip_addresses"] == [first]


@contextlib.contextmanager
def _neighbour(address: str, mac: str, device: str) -> Iterator[None]:
    """A permanent neighbour entry (``ip neigh replace … nud permanent``: a table entry, no
    packet sent), kept there while the block runs (the kernel flushes a bridge's entries
    when a port comes or goes, as bench/waits.py found), and removed afterwards."""
    stop = threading.Event()

    def neigh(*verb: str) -> None:
        argv = ["ip", "neigh", *verb, address]
        if verb[0] == "replace":
            argv += ["lladdr", mac, "nud", "permanent"]
        subprocess.run([*argv, "dev", device], check=False, timeout=10, capture_output=True)

    def keep() -> None:
        while not stop.wait(0.2):
            table = Path("/proc/net/arp").read_text()
            if not any(f"{address} " in line and device in line for line in table.splitlines()):
                neigh("replace")

    neigh("replace")
    keeper = threading.Thread(target=keep, daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        neigh("del")


@pytest.mark.transport
def test_neighbour_entries_count_only_on_the_nics_own_bridge(
    lab: Lab, isolated_network: IsolatedNetwork
) -> None:
    """An entry for the VM's MAC on another interface (here the isolated network's bridge)
    is not its NIC's: the wait times out. The same MAC on the NIC's own bridge is."""
    mac = _mac()
    elsewhere, own = (NEIGHBOUR.format(base + os.getpid() % 100) for base in (10, 120))
    declared = {
        "nics": [{"bridge": lab.bridge, "mac": mac}],
        "address_source": "arp",
        "wait_for": "ip",
    }
    lab.vm("a", **declared, wait_timeout_s=3)
    with _neighbour(elsewhere, mac, isolated_network.bridge):
        with pytest.raises(ProviderError, match="not within 3 s"):
            lab.up()

        lab.vm("a", **declared, wait_timeout_s=20)
        with _neighbour(own, mac, lab.bridge):
            lab.up()

    assert lab.outputs("a")["ip_address"] == own
    assert ipaddress.ip_address(own) in ipaddress.ip_network("198.18.0.0/15")
