"""Choosing a VM's addresses from the sources a host offers (fleet spec §2).

Four sources can name a guest's addresses, and none of them is trusted: the libvirt
network's DHCP leases (dnsmasq), the qemu guest agent (which reports whatever the guest
says), the host's neighbour table and the guest's serial console (see ``console.py``).
Every value that reaches this module is therefore treated as hostile input: addresses are
validated with :mod:`ipaddress`, MACs with a strict pattern, shapes with ``isinstance``, and
nothing here raises on a malformed value — a bad entry is dropped, never fatal.

The outputs follow the spec: per NIC (matched by MAC) the first source, in the fixed order
lease, agent, ARP, console, that has a *usable* address wins; ``ip_addresses`` is the union
over NICs in NIC order, IPv4 before IPv6 within each NIC, without duplicates; ``ip_address``
is the first IPv4 address of the first NIC.

"Usable" means an address another machine could reach the guest at: loopback, link-local,
unspecified and multicast addresses are dropped. cloud-init's ``ci-info`` table, for one,
often lists only ``fe80::…/64`` because it prints before DHCP is done.

The host-side records (leases, neighbour entries) are trusted only on the VM's own link:
an entry counts for a NIC when it is for the NIC's MAC on the device the NIC is attached to
(:data:`Links`).

Pure: no I/O, no libvirt, no processes. The caller fetches (leases, agent answer,
``/proc/net/arp``, console bytes) and passes the values in.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ANY_ORDER",
    "DEFAULT_LEASE_SECONDS",
    "GUEST_PATTERNS",
    "MAC",
    "Addresses",
    "IPAddress",
    "Links",
    "Source",
    "choose",
    "fresh_leases",
    "from_libvirt",
    "normalize_mac",
    "parse_arp_table",
    "parse_ip",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Links = Mapping[str, str]
"""Each NIC's MAC (lower-case) and the host device its link is: the bridge of its libvirt
network or the host bridge it is on. A host-side record (a neighbour entry, a DHCP lease)
names an address of the VM only when it is for that MAC on that device; a NIC without a
device (macvtap, hostdev) gets no address from these records."""

MAX_ADDRESS_CHARS: Final = 64
"""Longer text is never an address (the longest IPv6 form with a zone and prefix is ~60)."""

MAX_ADDRESSES_PER_NIC: Final = 64
"""A guest (through its agent) could report thousands; the outputs keep a sane number."""

MAX_ARP_LINES: Final = 65536
"""``/proc/net/arp`` of a busy host is a few thousand lines; more is not a neighbour table."""

DEFAULT_LEASE_SECONDS: Final = 3600.0
"""dnsmasq's default lease time, which libvirt's networks use unless the network's
``<dhcp><range><lease expiry='N' unit='…'/>`` says otherwise."""

ATF_COM: Final = 0x2
"""``/proc/net/arp`` flag for a completed entry (Linux ``include/uapi/linux/if_arp.h``)."""

MAC: Final = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
"""A MAC address as libvirt and the guest write it (lower case), and as ``nics[].mac`` takes it."""
_ZERO_MAC: Final = "00:00:00:00:00:00"

GUEST_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (MAC,)
"""Every pattern this module applies to what a guest or its records wrote, for the
linearity test (``tests/unit/test_guest_patterns.py``; see :mod:`.console`)."""


class Source(enum.StrEnum):
    """Where an address came from; the value is the ``address_source`` input's spelling."""

    LEASE = "lease"
    AGENT = "agent"
    ARP = "arp"
    CONSOLE = "console"


ANY_ORDER: Final[tuple[Source, ...]] = (Source.LEASE, Source.AGENT, Source.ARP, Source.CONSOLE)
"""The order ``address_source='any'`` tries sources in (the spec's order): authoritative
host-side records first, then the guest's own word, then what the guest printed."""


def normalize_mac(value: object) -> str | None:
    """``value`` as a lower-case, colon-separated MAC, or None when it is not one.

    libvirt spells MACs lower-case, the agent and ``ip`` may not, and some tools use ``-``:
    one spelling lets a NIC be matched across sources. The all-zero MAC (the agent's ``lo``)
    is no NIC's and is refused.
    """
    if not isinstance(value, str) or len(value) > 32:
        return None
    mac = value.strip().lower().replace("-", ":")
    if not MAC.fullmatch(mac) or mac == _ZERO_MAC:
        return None
    return mac


def parse_ip(text: object) -> IPAddress | None:
    """A usable address in ``text``, or None.

    Accepts an address, an address with a prefix (``198.18.0.5/16``, ``2001:db8::5/64``)
    and an IPv6 zone (``fe80::1%ens2``, dropped anyway as link-local). Refuses, by returning
    None, anything :mod:`ipaddress` does not parse and the addresses nobody else can reach
    the guest at: loopback, link-local, unspecified and multicast.
    """
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address: IPAddress = text
    else:
        if not isinstance(text, str) or len(text) > MAX_ADDRESS_CHARS:
            return None
        candidate = text.strip()
        if not candidate:
            return None
        try:
            address = ipaddress.ip_interface(candidate).ip
        except ValueError:
            return None
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
    ):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return address


def _append(table: dict[str, list[IPAddress]], mac: str, address: IPAddress) -> None:
    found = table.setdefault(mac, [])
    if address not in found and len(found) < MAX_ADDRESSES_PER_NIC:
        found.append(address)


def parse_arp_table(text: object, links: Links) -> dict[str, list[IPAddress]]:
    """The host's ``/proc/net/arp`` as usable IPv4 addresses per MAC: complete entries on
    the MAC's own link only.

    The file's columns are ``IP address, HW type, Flags, HW address, Mask, Device``; an entry
    counts when its flags have ``ATF_COM`` (0x2): an incomplete entry (flags 0x0) has a zero
    MAC and means only that someone asked. It counts only when its device is the one
    ``links`` names for its MAC (see :data:`Links`): the same MAC on another interface is
    not this VM's NIC (a guest, or anyone on another segment, can claim any MAC). The
    neighbour table is read as a file, not via ``ip -j neigh``: a file read is cheap over
    SFTP (an SSH exec costs ~110 ms here), needs no iproute2 with JSON output, and libvirt's
    own ARP source fails on this machine kind ("wrong nlmsg len"). It is IPv4 only; a
    guest's IPv6 neighbours are mostly link-local, which would be dropped anyway, and the
    other sources cover global IPv6.
    """
    table: dict[str, list[IPAddress]] = {}
    if not isinstance(text, str):
        return table
    for number, line in enumerate(text.splitlines()):
        if number >= MAX_ARP_LINES:
            break
        fields = line.split()
        if len(fields) < 6 or fields[0] == "IP":
            continue
        try:
            flags = int(fields[2], 16)
        except ValueError:
            continue
        if not flags & ATF_COM:
            continue
        address = parse_ip(fields[0])
        mac = normalize_mac(fields[3])
        if address is None or mac is None or address.version != 4:
            continue
        if links.get(mac) != fields[5]:
            continue
        _append(table, mac, address)
    return table


def from_libvirt(result: object) -> dict[str, list[IPAddress]]:
    """``virDomainInterfaceAddresses``' answer as usable addresses per MAC.

    The shape is ``{ifname: {"hwaddr": mac, "addrs": [{"type": 0|1, "addr": text,
    "prefix": n}]}}`` (type 0 is IPv4, 1 is IPv6). With the agent source the guest writes
    it, so every level is checked; an entry whose ``type`` disagrees with its address is
    dropped, an interface without a MAC (the agent's ``lo``) is skipped.
    """
    table: dict[str, list[IPAddress]] = {}
    if not isinstance(result, Mapping):
        return table
    for interface in list(result.values())[:MAX_ADDRESSES_PER_NIC]:
        if not isinstance(interface, Mapping):
            continue
        mac = normalize_mac(interface.get("hwaddr"))
        addrs = interface.get("addrs")
        if mac is None or not isinstance(addrs, (list, tuple)):
            continue
        for entry in addrs[: MAX_ADDRESSES_PER_NIC * 4]:
            if not isinstance(entry, Mapping):
                continue
            address = parse_ip(entry.get("addr"))
            if address is None:
                continue
            kind = entry.get("type")
            if kind in (0, 1) and not isinstance(kind, bool) and address.version != 4 + 2 * kind:
                continue
            _append(table, mac, address)
    return table


def fresh_leases(
    leases: object,
    links: Links,
    started_at: float,
    lease_seconds: float | None = DEFAULT_LEASE_SECONDS,
    slack_s: float = 5.0,
) -> dict[str, list[IPAddress]]:
    """The leases of ``virNetwork.DHCPLeases()`` obtained (or renewed) after this start,
    each for a MAC on the network's own link.

    A lease counts only when its ``iface`` (the network's bridge) is the device ``links``
    names for its MAC: a lease on another network, for the same MAC, is not this NIC's.

    A lease from an earlier boot may still be unexpired and would name an address the
    guest no longer holds, so only a fresh one counts. libvirt reports when a lease ends
    (``expirytime``, epoch seconds), not when it began; dnsmasq sets that to grant time plus
    the lease duration, so a lease was granted at ``expirytime - lease_seconds`` and counts
    when that is at least ``started_at - slack_s``. ``slack_s`` absorbs whole-second
    rounding and the seconds between recording ``started_at`` and the domain starting.

    ``started_at`` must be on the hypervisor host's clock (leases are stamped by its
    dnsmasq), not the provider's when they differ. ``lease_seconds`` is the network's lease
    duration (:data:`DEFAULT_LEASE_SECONDS` unless its ``<lease>`` element says otherwise);
    None means infinite leases (``expiry='0'``, ``expirytime`` 0): then no lease can be shown
    fresh and none counts — the other sources answer instead.
    """
    table: dict[str, list[IPAddress]] = {}
    if lease_seconds is None or not isinstance(leases, (list, tuple)):
        return table
    if not (math.isfinite(lease_seconds) and math.isfinite(started_at)):
        return table
    for lease in leases[:65536]:
        if not isinstance(lease, Mapping):
            continue
        expiry = lease.get("expirytime")
        if isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or expiry <= 0:
            continue
        if expiry - lease_seconds < started_at - slack_s:
            continue
        mac = normalize_mac(lease.get("mac"))
        address = parse_ip(lease.get("ipaddr"))
        if mac is None or address is None or links.get(mac) != lease.get("iface"):
            continue
        _append(table, mac, address)
    return table


@dataclass(frozen=True)
class Addresses:
    """What the VM's address outputs say, and which source answered for each NIC.

    ``sources`` has one entry per NIC, in NIC order: the source whose addresses that NIC
    got, or None when no allowed source knew one. ``unavailable`` names the allowed sources
    the host could not ask (reported, never fatal).
    """

    ip_address: str | None
    ip_addresses: tuple[str, ...]
    sources: tuple[Source | None, ...]
    unavailable: tuple[Source, ...] = ()


def _usable(values: object) -> list[IPAddress]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return []
    found: list[IPAddress] = []
    for index, value in enumerate(values):
        if index >= MAX_ADDRESSES_PER_NIC * 4:
            break
        address = parse_ip(value)
        if address is not None and address not in found:
            found.append(address)
    return found


def _lookup(table: Mapping[Any, Any], mac: str) -> object:
    """The entry for ``mac`` in a source's table, whatever spelling of the MAC it used."""
    if mac in table:
        return table[mac]
    for key, value in table.items():
        if normalize_mac(key) == mac:
            return value
    return None


def choose(
    nics: Sequence[str],
    by_source: Mapping[Source, Mapping[str, Sequence[IPAddress | str]] | None],
    allowed: Iterable[Source] = ANY_ORDER,
) -> Addresses:
    """The VM's addresses: per NIC the first allowed source with a usable address wins.

    ``nics`` are the domain's MACs in NIC order. ``by_source`` maps a source to its table
    (MAC -> addresses, as the parsers above return) or to None when the source is
    unavailable on this host; a source absent from it counts as unavailable too.
    ``allowed`` is the set ``address_source`` permits; it is tried in :data:`ANY_ORDER`
    whatever order it is given in, because the spec fixes that order.

    Within a NIC the winning source's IPv4 addresses come first, then its IPv6 ones, each
    in the source's order. Sources are not merged per NIC: a stale console table must not
    add to a fresh lease.
    """
    wanted = set(allowed)
    order = [source for source in ANY_ORDER if source in wanted]
    unavailable = tuple(source for source in order if by_source.get(source) is None)
    ip_addresses: list[str] = []
    seen: set[IPAddress] = set()
    sources: list[Source | None] = []
    ip_address: str | None = None
    for position, raw_mac in enumerate(nics):
        mac = normalize_mac(raw_mac)
        winner: Source | None = None
        found: list[IPAddress] = []
        for source in order:
            table = by_source.get(source)
            if mac is None or not isinstance(table, Mapping):
                continue
            found = _usable(_lookup(table, mac))
            if found:
                winner = source
                break
        sources.append(winner)
        ordered = [a for a in found if a.version == 4] + [a for a in found if a.version == 6]
        if position == 0 and ordered and ordered[0].version == 4:
            ip_address = str(ordered[0])
        for address in ordered:
            if address not in seen:
                seen.add(address)
                ip_addresses.append(str(address))
    return Addresses(
        ip_address=ip_address,
        ip_addresses=tuple(ip_addresses),
        sources=tuple(sources),
        unavailable=unavailable,
    )
