"""addresses: parsing every source defensively and choosing per NIC (fleet spec §2)."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.vm.guest.addresses import (
    ANY_ORDER,
    Source,
    choose,
    fresh_leases,
    from_libvirt,
    normalize_mac,
    parse_arp_table,
    parse_ip,
)

MAC1 = "52:54:00:be:c1:b1"
MAC2 = "52:54:00:c8:24:ae"


# -- parse_ip ---------------------------------------------------------------------------


def test_parse_ip_accepts_addresses_and_prefixes() -> None:
    assert parse_ip("192.168.122.45") == ipaddress.IPv4Address("192.168.122.45")
    assert parse_ip(" 198.18.0.5/16 ") == ipaddress.IPv4Address("198.18.0.5")
    assert parse_ip("2001:db8::5/64") == ipaddress.IPv6Address("2001:db8::5")
    assert parse_ip("10.0.0.1/255.255.0.0") == ipaddress.IPv4Address("10.0.0.1")


def test_parse_ip_drops_what_nobody_can_reach() -> None:
    for text in [
        "127.0.0.1",
        "::1/128",
        "fe80::5054:ff:febe:c1b1/64",
        "fe80::1%ens2",
        "169.254.3.4",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
    ]:
        assert parse_ip(text) is None, text


def test_parse_ip_refuses_non_addresses() -> None:
    for value in ["", ".", "True", "999.1.1.1", "1.2.3.4/33", "1.2.3", "x" * 500, None, 7, b"1"]:
        assert parse_ip(value) is None, value


def test_normalize_mac() -> None:
    assert normalize_mac("52:54:00:BE:C1:B1") == MAC1
    assert normalize_mac("52-54-00-be-c1-b1") == MAC1
    assert normalize_mac("00:00:00:00:00:00") is None
    assert normalize_mac(".") is None
    assert normalize_mac("52:54:00:be:c1") is None


# -- /proc/net/arp ----------------------------------------------------------------------

PROC_NET_ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.168.122.45   0x1         0x2         52:54:00:be:c1:b1     *        virbr0
192.168.122.46   0x1         0x0         00:00:00:00:00:00     *        virbr0
192.168.122.47   0x1         0x6         52:54:00:C8:24:AE     *        virbr0
10.0.2.9         0x1         0x2         52:54:00:be:c1:b1     *        br-lab
169.254.1.1      0x1         0x2         52:54:00:be:c1:b1     *        virbr0
garbage line
1.2.3.4 0x1 zz 52:54:00:be:c1:b1 * eth0
"""


ON_VIRBR0 = {MAC1: "virbr0", MAC2: "virbr0"}


def test_arp_table_keeps_complete_entries_only() -> None:
    table = parse_arp_table(PROC_NET_ARP, ON_VIRBR0)
    assert table == {
        MAC1: [ipaddress.IPv4Address("192.168.122.45")],
        MAC2: [ipaddress.IPv4Address("192.168.122.47")],
    }


def test_arp_entries_count_only_on_the_macs_own_link() -> None:
    """MAC1's entry on br-lab is not its NIC's (which is on virbr0), and a MAC without a
    link (a NIC on macvtap, or no NIC of this VM) gets nothing."""
    assert parse_arp_table(PROC_NET_ARP, {MAC1: "br-lab"}) == {
        MAC1: [ipaddress.IPv4Address("10.0.2.9")]
    }
    assert parse_arp_table(PROC_NET_ARP, {}) == {}
    assert parse_arp_table(PROC_NET_ARP, {MAC2: "br-lab"}) == {}


def test_arp_table_of_nothing() -> None:
    assert parse_arp_table("", ON_VIRBR0) == {}
    assert parse_arp_table(PROC_NET_ARP.splitlines()[0], ON_VIRBR0) == {}


# -- virDomainInterfaceAddresses --------------------------------------------------------

AGENT_ANSWER: dict[str, Any] = {
    "lo": {
        "hwaddr": "00:00:00:00:00:00",
        "addrs": [{"type": 0, "addr": "127.0.0.1", "prefix": 8}],
    },
    "ens2": {
        "hwaddr": "52:54:00:BE:C1:B1",
        "addrs": [
            {"type": 1, "addr": "fe80::5054:ff:febe:c1b1", "prefix": 64},
            {"type": 1, "addr": "2001:db8::45", "prefix": 64},
            {"type": 0, "addr": "192.168.122.45", "prefix": 24},
            {"type": 0, "addr": "2001:db8::bad", "prefix": 64},
            {"type": 0, "addr": "not-an-address", "prefix": 24},
            "junk",
        ],
    },
    "ens3": {"hwaddr": None, "addrs": [{"type": 0, "addr": "10.1.1.1", "prefix": 8}]},
    "ens4": {"hwaddr": MAC2, "addrs": None},
}


def test_from_libvirt_normalises_and_validates() -> None:
    assert from_libvirt(AGENT_ANSWER) == {
        MAC1: [ipaddress.IPv6Address("2001:db8::45"), ipaddress.IPv4Address("192.168.122.45")]
    }


def test_from_libvirt_of_non_dicts() -> None:
    values: list[Any] = [None, [], "x", {"a": 1}, {"a": {"hwaddr": MAC1, "addrs": "1.2.3.4"}}]
    for value in values:
        assert from_libvirt(value) == {}


# -- leases -----------------------------------------------------------------------------

STARTED = 1_764_600_000.0


def lease(mac: str, ip: str, granted: float, duration: float = 3600) -> dict[str, Any]:
    """One entry of ``virNetwork.DHCPLeases()``."""
    return {
        "iface": "virbr0",
        "expirytime": int(granted + duration),
        "type": 0,
        "mac": mac,
        "iaid": None,
        "ipaddr": ip,
        "prefix": 24,
        "hostname": "web01",
        "clientid": "ff:00:be:c1:b1:00:01:00:01",
    }


def test_only_leases_granted_after_the_start_count() -> None:
    leases = [
        lease(MAC1, "192.168.122.10", STARTED - 600),  # the previous boot's lease
        lease(MAC2, "192.168.122.20", STARTED + 24),  # this boot's
        lease(MAC1, "192.168.122.11", STARTED - 2),  # within the slack
    ]
    assert fresh_leases(leases, ON_VIRBR0, STARTED) == {
        MAC2: [ipaddress.IPv4Address("192.168.122.20")],
        MAC1: [ipaddress.IPv4Address("192.168.122.11")],
    }


def test_leases_count_only_on_the_macs_own_network() -> None:
    """A lease is its network's (``iface``, the network's bridge): the same MAC's lease on
    another network is not this NIC's."""
    leases = [lease(MAC1, "192.168.122.10", STARTED + 5)]
    assert fresh_leases(leases, {MAC1: "virbr7"}, STARTED) == {}
    assert fresh_leases(leases, {}, STARTED) == {}
    assert fresh_leases(leases, {MAC1: "virbr0"}, STARTED) != {}


def test_lease_duration_is_the_networks() -> None:
    short = [lease(MAC1, "192.168.122.10", STARTED + 5, duration=120)]
    assert fresh_leases(short, ON_VIRBR0, STARTED, lease_seconds=120) != {}
    # read with the default hour, a 2-minute lease looks granted 58 minutes before it was
    assert fresh_leases(short, ON_VIRBR0, STARTED) == {}


def test_infinite_or_malformed_leases_never_count() -> None:
    infinite = [dict(lease(MAC1, "192.168.122.10", STARTED + 5), expirytime=0)]
    assert fresh_leases(infinite, ON_VIRBR0, STARTED, lease_seconds=None) == {}
    assert fresh_leases(infinite, ON_VIRBR0, STARTED) == {}
    bad: list[Any] = [
        {"mac": MAC1, "ipaddr": "192.168.122.10"},
        {"mac": MAC1, "ipaddr": "192.168.122.10", "expirytime": "soon"},
        {"mac": MAC1, "ipaddr": "192.168.122.10", "expirytime": True},
        {"mac": "nope", "ipaddr": "192.168.122.10", "expirytime": STARTED + 4000},
        None,
        "lease",
    ]
    assert fresh_leases(bad, ON_VIRBR0, STARTED) == {}
    assert fresh_leases(None, ON_VIRBR0, STARTED) == {}
    assert fresh_leases([], ON_VIRBR0, float("nan")) == {}


# -- choose -----------------------------------------------------------------------------


def ips(*texts: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(t) for t in texts]


def test_first_source_with_a_usable_address_wins_per_nic() -> None:
    result = choose(
        [MAC1, MAC2],
        {
            Source.LEASE: {MAC2: ips("192.168.122.20")},
            Source.AGENT: {
                MAC1: ips("2001:db8::45", "192.168.122.45"),
                MAC2: ips("10.9.9.9"),
            },
            Source.ARP: None,
            Source.CONSOLE: {MAC1: ["fe80::1"]},
        },
        ANY_ORDER,
    )
    assert result.ip_address == "192.168.122.45"
    assert result.ip_addresses == ("192.168.122.45", "2001:db8::45", "192.168.122.20")
    assert result.sources == (Source.AGENT, Source.LEASE)
    assert result.unavailable == (Source.ARP,)


def test_a_source_with_only_link_local_does_not_win() -> None:
    result = choose(
        [MAC1],
        {Source.LEASE: {}, Source.CONSOLE: {MAC1: ["fe80::5054:ff:febe:c1b1/64", "10.0.0.7"]}},
    )
    assert result.sources == (Source.CONSOLE,)
    assert result.ip_addresses == ("10.0.0.7",)
    assert result.unavailable == (Source.AGENT, Source.ARP)


def test_allowed_restricts_and_the_spec_fixes_the_order() -> None:
    tables: dict[Source, Any] = {
        Source.LEASE: {MAC1: ["192.168.122.10"]},
        Source.CONSOLE: {MAC1: ["192.168.122.99"]},
    }
    assert choose([MAC1], tables, [Source.CONSOLE]).ip_address == "192.168.122.99"
    assert choose([MAC1], tables, [Source.CONSOLE, Source.LEASE]).ip_address == "192.168.122.10"
    nothing = choose([MAC1], tables, [Source.AGENT])
    assert nothing.ip_address is None
    assert nothing.sources == (None,)
    assert nothing.unavailable == (Source.AGENT,)


def test_ip_address_is_the_first_nics_first_ipv4() -> None:
    only_v6_first = choose(
        [MAC1, MAC2], {Source.AGENT: {MAC1: ["2001:db8::1"], MAC2: ["192.168.122.20"]}}
    )
    assert only_v6_first.ip_address is None
    assert only_v6_first.ip_addresses == ("2001:db8::1", "192.168.122.20")


def test_macs_match_whatever_their_spelling() -> None:
    result = choose(["52:54:00:BE:C1:B1"], {Source.AGENT: {"52-54-00-be-c1-b1": ["10.1.1.1"]}})
    assert result.ip_address == "10.1.1.1"


def test_no_nics() -> None:
    assert choose([], {}).ip_addresses == ()


# -- properties -------------------------------------------------------------------------

macs = st.sampled_from([MAC1, MAC2, "52:54:00:00:00:03", "52:54:00:00:00:04"])
addresses = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["10.0.0.1", "10.0.0.1/8", "2001:db8::1", "fe80::1", "127.0.0.1", "x"]),
    st.text(max_size=20),
)
tables = st.one_of(st.none(), st.dictionaries(macs, st.lists(addresses, max_size=6), max_size=4))


@given(
    nics=st.lists(macs, max_size=4),
    by_source=st.fixed_dictionaries({source: tables for source in Source}),
    allowed=st.lists(st.sampled_from(list(Source)), max_size=4),
)
def test_choose_keeps_nic_order_ipv4_first_and_no_duplicates(
    nics: list[str], by_source: dict[Source, Any], allowed: list[Source]
) -> None:
    result = choose(nics, by_source, allowed)
    assert len(result.ip_addresses) == len(set(result.ip_addresses))
    assert len(result.sources) == len(nics)
    # each NIC's addresses, IPv4 first, appear in NIC order
    expected: list[str] = []
    for mac, source in zip(nics, result.sources, strict=True):
        if source is None:
            continue
        assert source in allowed
        table = by_source[source]
        assert table is not None
        usable = [a for a in (parse_ip(v) for v in table[mac]) if a is not None]
        ordered = [a for a in usable if a.version == 4] + [a for a in usable if a.version == 6]
        expected.extend(str(a) for a in ordered if str(a) not in expected)
    assert list(result.ip_addresses) == expected
    for text in result.ip_addresses:
        assert parse_ip(text) is not None
    if result.ip_address is not None:
        assert ipaddress.ip_address(result.ip_address).version == 4
        assert result.sources[0] is not None


@given(st.text(max_size=2000))
def test_text_parsers_never_raise(text: str) -> None:
    parse_ip(text)
    parse_arp_table(text, ON_VIRBR0)
    normalize_mac(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@given(json_values)
def test_structured_parsers_never_raise(value: Any) -> None:
    from_libvirt(value)
    from_libvirt({"ens2": value})
    from_libvirt({"ens2": {"hwaddr": MAC1, "addrs": value}})
    fresh_leases(value, ON_VIRBR0, STARTED)
    fresh_leases([value], ON_VIRBR0, STARTED)
