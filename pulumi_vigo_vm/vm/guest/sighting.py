"""What a host can tell of a running VM's addresses and of its boot's progress. Reads only.

Four sources, each asked only when ``address_source`` allows it and each allowed to be
unavailable (reported, never fatal): the DHCP leases of the VM's libvirt network, the qemu
guest agent, the host's neighbour table (``/proc/net/arp``: libvirt's own ARP source fails
on some kernels) and the guest's serial console log, where cloud-init prints its ``ci-info``
table and its progress. The console is always read, bounded, because it is also how
readiness is seen. Nothing here opens a connection to the guest. Parsing is
:mod:`.console` and :mod:`.addresses` (pure; guest output is untrusted there).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ...errors import HostError
from ...hosts.base import Host, read_bounded
from ...virt.hypervisor import Guest
from ...virt.target import Target
from ..cloudinit import instance_id
from ..domain_xml import NicLink, nic_links
from ..inputs import AddressSource
from ..spec import VmSpec
from .addresses import (
    ANY_ORDER,
    Addresses,
    IPAddress,
    Links,
    Source,
    choose,
    fresh_leases,
    from_libvirt,
    parse_arp_table,
)
from .console import MAX_CONSOLE_BYTES, ConsoleReading, LogFile, LogMark, boot_slice, read_console

__all__ = ["ARP_TABLE", "BootMark", "Sighting", "Subject", "allowed_sources", "boot_mark", "sight"]

ARP_TABLE = "/proc/net/arp"
_MAX_ARP_BYTES = 1 << 20


@dataclass(frozen=True)
class BootMark:
    """Where and when the boot this run started began: the console log's size just before
    the start, and the time then (on this machine's clock; a remote host's is assumed to
    agree, as NTP-synced hosts do, within the lease check's slack)."""

    log: LogMark
    started_at: float


@dataclass(frozen=True)
class Subject:
    """A running VM to look at: where it runs, what it is, its NICs' MACs in order, the
    console log its current boot writes, and the boot this run started (None: a guest it
    found running)."""

    target: Target
    spec: VmSpec
    guest: Guest
    macs: Sequence[str]
    console_log: str
    mark: BootMark | None


@dataclass(frozen=True)
class Sighting:
    """One look at a running VM: its addresses, and what its console says of this boot."""

    addresses: Addresses
    console: ConsoleReading


def boot_mark(host: Host, console_log: str) -> BootMark:
    """The mark to record just before starting a guest whose console goes to ``console_log``."""
    st = host.stat(console_log)
    return BootMark(LogMark(st.size if st is not None else 0), time.time())


def _log_file(host: Host, path: str) -> LogFile | None:
    st = host.stat(path)
    if st is None or not st.is_file:
        return None
    start = max(0, st.size - MAX_CONSOLE_BYTES)
    return LogFile(st.size, read_bounded(host, path, MAX_CONSOLE_BYTES, start))


def _console_bytes(host: Host, console_log: str, mark: BootMark | None) -> bytes:
    current = _log_file(host, console_log)
    if current is None:
        return b""
    if mark is None:  # a guest this run did not start: read_console finds its last boot
        return current.tail
    return boot_slice(mark.log, current, _log_file(host, console_log + ".0"))


def _arp(host: Host, links: Links) -> dict[str, list[IPAddress]] | None:
    try:
        text = read_bounded(host, ARP_TABLE, _MAX_ARP_BYTES).decode("ascii", "replace")
    except (HostError, OSError):
        return None
    return parse_arp_table(text, links)


def _leases(
    target: Target, nics: Sequence[NicLink], links: Links, started_at: float
) -> dict[str, list[IPAddress]] | None:
    """The fresh leases of every libvirt network a NIC is on, each NIC's from its own
    network (None when no NIC is on a network that answered: unavailable)."""
    table: dict[str, list[IPAddress]] | None = None
    for network in sorted({nic.network for nic in nics if nic.network is not None}):
        leases = target.hypervisor.network_leases(network)
        if leases is not None:
            table = (table or {}) | fresh_leases(leases, links, started_at)
    return table


def allowed_sources(spec: VmSpec) -> tuple[Source, ...]:
    """The sources ``address_source`` allows, in the order they are tried."""
    if spec.address_source is AddressSource.ANY:
        return ANY_ORDER
    return (Source(spec.address_source.value),)


def sight(subject: Subject) -> Sighting:
    """Look once at ``subject``.

    The host-side sources are asked for every NIC, however it was declared, and trusted
    only on its own link: each NIC's leases come from its own libvirt network and its
    neighbour entries from its own bridge, as the running definition names them."""
    target, spec, guest, mark = subject.target, subject.spec, subject.guest, subject.mark
    allowed = allowed_sources(spec)
    by_source: dict[Source, Mapping[str, Sequence[IPAddress | str]] | None] = {}
    nics: tuple[NicLink, ...] = ()
    if Source.LEASE in allowed or Source.ARP in allowed:
        nics = nic_links(guest.running_xml())
    links = {nic.mac: nic.bridge for nic in nics if nic.bridge is not None}
    if Source.LEASE in allowed:
        started = mark.started_at if mark is not None else 0.0
        by_source[Source.LEASE] = _leases(target, nics, links, started)
    if Source.AGENT in allowed:
        found = guest.agent_addresses()
        by_source[Source.AGENT] = None if found is None else from_libvirt(found)
    if Source.ARP in allowed:
        by_source[Source.ARP] = _arp(target.host, links)
    seed = spec.seed_hash
    reading = read_console(
        _console_bytes(target.host, subject.console_log, mark),
        instance_id(spec.vm_name, seed) if seed is not None else None,
    )
    if Source.CONSOLE in allowed:
        by_source[Source.CONSOLE] = {mac: list(found) for mac, found in reading.addresses}
    return Sighting(choose(subject.macs, by_source, allowed), reading)
