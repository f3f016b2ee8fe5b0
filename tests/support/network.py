"""An isolated libvirt network for tests: DHCP on, no ``<forward>``, nothing leaves the host.

:func:`isolated_network` starts a transient network ``vigo-net-<n>`` on bridge
``vigonet<n>`` with the host at ``.1`` of the ``/24`` number ``n`` of 198.18.0.0/15 (the
range reserved for network tests, RFC 2544), a DHCP range inside it, and destroys it on
exit. ``n`` is claimed under a lock file in ``/run/lock``, so parallel sessions on this host
take different ``n``; a network of a number whose lock is free was left by a session that
died, and is destroyed before the number is reused.

Transient (``networkCreateXML``), not defined: the network exists only while it runs, so
destroying it removes it completely (there is no config to undefine), and a session that
dies without cleaning up leaves nothing that survives a reboot of the host.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import libvirt

__all__ = [
    "NAME_PREFIX",
    "TEST_RANGE",
    "IsolatedNetwork",
    "NetworkUnavailable",
    "isolated_network",
    "network_xml",
]

NAME_PREFIX = "vigo-net-"
BRIDGE_PREFIX = "vigonet"
TEST_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
"""RFC 2544's benchmarking range: never routed, so no real host can be reached by mistake."""
SLOTS = 2 ** (24 - TEST_RANGE.prefixlen)  # 512 /24s in the /15
LOCK_DIR = Path("/run/lock")
DHCP_FIRST, DHCP_LAST = 10, 250  # host parts of the DHCP range


class NetworkUnavailable(RuntimeError):
    """libvirt could not start an isolated network on this host."""


@dataclass(frozen=True)
class IsolatedNetwork:
    """A running isolated network: its libvirt name, bridge, subnet and DHCP range."""

    name: str
    bridge: str
    subnet: ipaddress.IPv4Network
    dhcp_start: ipaddress.IPv4Address
    dhcp_end: ipaddress.IPv4Address

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The host's address on the network (where dnsmasq listens)."""
        return self.subnet.network_address + 1

    @classmethod
    def for_slot(cls, slot: int) -> IsolatedNetwork:
        """The network of number ``slot`` (0 <= slot < 512): the slot-th /24 of the range."""
        if not 0 <= slot < SLOTS:
            raise ValueError(f"slot {slot} not in 0..{SLOTS - 1}")
        subnet = list(TEST_RANGE.subnets(new_prefix=24))[slot]
        base = subnet.network_address
        return cls(
            name=f"{NAME_PREFIX}{slot}",
            bridge=f"{BRIDGE_PREFIX}{slot}",  # at most 10 characters (Linux allows 15)
            subnet=subnet,
            dhcp_start=base + DHCP_FIRST,
            dhcp_end=base + DHCP_LAST,
        )


def network_xml(net: IsolatedNetwork) -> str:
    """The libvirt XML of ``net``: no ``<forward>`` (isolated), one IPv4 address, DHCP."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = net.name
    ET.SubElement(root, "bridge", name=net.bridge, stp="off", delay="0")
    ip = ET.SubElement(root, "ip", address=str(net.gateway), netmask=str(net.subnet.netmask))
    dhcp = ET.SubElement(ip, "dhcp")
    ET.SubElement(dhcp, "range", start=str(net.dhcp_start), end=str(net.dhcp_end))
    return ET.tostring(root, encoding="unicode")


def _lookup(conn: libvirt.virConnect, name: str) -> libvirt.virNetwork | None:
    """Network ``name``, or None (listed first: a failed lookup makes libvirt print)."""
    for net in conn.listAllNetworks():
        if net.name() == name:
            return net
    return None


def remove(conn: libvirt.virConnect, name: str) -> None:
    """Stop network ``name`` and forget it (undefined too if someone defined it)."""
    net = _lookup(conn, name)
    if net is None:
        return
    persistent = net.isPersistent()
    if net.isActive():
        net.destroy()  # a transient network is gone with this
    if persistent:
        net.undefine()


@contextlib.contextmanager
def _claim(slot: int) -> Iterator[bool]:
    """Hold the lock of number ``slot`` for the body; yields False if another holds it."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    lock: IO[str] = open(LOCK_DIR / f"{NAME_PREFIX}{slot}.lock", "w")  # noqa: SIM115
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        lock.close()  # releases the lock


def _in_use(exc: libvirt.libvirtError) -> bool:
    """Whether starting failed because the subnet, bridge or name is someone else's."""
    text = str(exc).lower()
    return any(s in text for s in ("already in use", "already exists", "file exists"))


def _dnsmasq_missing() -> bool:
    """Whether this host has no dnsmasq (libvirtd, local here, looks in sbin too)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("dnsmasq", path=path) is None


def _unavailable(net: IsolatedNetwork, exc: libvirt.libvirtError) -> NetworkUnavailable:
    hint = ""
    if _dnsmasq_missing() or "dnsmasq" in str(exc).lower():
        hint = (
            " libvirt runs dnsmasq for a network's DHCP: install dnsmasq-base "
            "(`apt-get install dnsmasq-base`, listed in scripts/host-packages.txt)."
        )
    return NetworkUnavailable(f"libvirt could not start network {net.name}: {exc}.{hint}")


@contextlib.contextmanager
def isolated_network(
    conn: libvirt.virConnect, first_slot: int | None = None
) -> Iterator[IsolatedNetwork]:
    """Start a transient isolated network with DHCP; destroy it on exit.

    Numbers are tried from ``first_slot`` (default: derived from the pid, to spread
    parallel sessions) upwards, skipping those locked by another session here and those
    whose subnet or bridge libvirt reports in use. Raises :class:`NetworkUnavailable`
    when libvirt cannot start a network at all (e.g. dnsmasq is missing).
    """
    if _dnsmasq_missing():
        raise NetworkUnavailable(
            "dnsmasq is not installed, so libvirt cannot run a network's DHCP: install "
            "dnsmasq-base (`apt-get install dnsmasq-base`, listed in scripts/host-packages.txt)"
        )
    uri = conn.getURI()
    start = os.getpid() % SLOTS if first_slot is None else first_slot
    last_error: libvirt.libvirtError | None = None
    for offset in range(SLOTS):
        net = IsolatedNetwork.for_slot((start + offset) % SLOTS)
        with _claim((start + offset) % SLOTS) as claimed:
            if not claimed:
                continue
            remove(conn, net.name)  # the number's lock was free: a dead session's network
            try:
                conn.networkCreateXML(network_xml(net))
            except libvirt.libvirtError as exc:
                if not _in_use(exc):
                    raise _unavailable(net, exc) from exc
                last_error = exc
                continue
            try:
                yield net
            finally:
                # A fresh connection: tests restart libvirtd meanwhile (reliability suite).
                with contextlib.closing(libvirt.open(uri)) as fresh:
                    remove(fresh, net.name)
            return
    raise NetworkUnavailable(f"no free number for a {NAME_PREFIX}* network: {last_error}")
