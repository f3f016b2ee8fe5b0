"""The isolated test network (``support.network``, the ``isolated_network`` session fixture):
running, without a forward mode, its DHCP range inside 198.18.0.0/15, and gone after use.

No guest is booted and no connection is opened to any address on the network.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from support import network as testnet
from support.network import NAME_PREFIX, TEST_RANGE, IsolatedNetwork, network_xml

pytestmark = pytest.mark.libvirt


def _network(conn: libvirt.virConnect, name: str) -> libvirt.virNetwork | None:
    try:
        return conn.networkLookupByName(name)
    except libvirt.libvirtError:
        return None


def _assert_isolated_with_dhcp(conn: libvirt.virConnect, net: IsolatedNetwork) -> None:
    live = _network(conn, net.name)
    assert live is not None, f"{net.name} is not known to libvirt"
    assert live.isActive()
    assert not live.isPersistent()  # transient: destroy() removes it completely
    assert live.bridgeName() == net.bridge
    assert len(net.bridge) <= 15
    assert Path(f"/sys/class/net/{net.bridge}").exists()
    root = ET.fromstring(live.XMLDesc(0))
    assert root.find("forward") is None, ET.tostring(root, encoding="unicode")
    ips = root.findall("ip")
    assert len(ips) == 1
    ip = ips[0]
    host = ipaddress.ip_interface(f"{ip.get('address')}/{ip.get('netmask')}")
    assert host.network == net.subnet
    assert host.network.subnet_of(TEST_RANGE)
    ranges = ip.findall("dhcp/range")
    assert len(ranges) == 1
    start = ipaddress.ip_address(ranges[0].get("start"))
    end = ipaddress.ip_address(ranges[0].get("end"))
    assert start <= end
    for address in (start, end):
        assert address in TEST_RANGE
        assert address in net.subnet
        assert address != host.ip


def test_session_network_is_isolated_with_dhcp(
    libvirt_conn: libvirt.virConnect, isolated_network: IsolatedNetwork
) -> None:
    assert isolated_network.name.startswith(NAME_PREFIX)
    assert isolated_network.subnet.subnet_of(TEST_RANGE)
    _assert_isolated_with_dhcp(libvirt_conn, isolated_network)


def test_network_is_gone_after_use(
    libvirt_conn: libvirt.virConnect, isolated_network: IsolatedNetwork
) -> None:
    """What the session fixture does at its end, on a second network beside it: a different
    number (the session's is locked), and nothing left afterwards."""
    with testnet.isolated_network(libvirt_conn) as second:
        assert second.name != isolated_network.name
        assert not second.subnet.overlaps(isolated_network.subnet)
        assert second.bridge != isolated_network.bridge
        _assert_isolated_with_dhcp(libvirt_conn, second)
    assert _network(libvirt_conn, second.name) is None
    assert not Path(f"/sys/class/net/{second.bridge}").exists()
    assert second.name not in libvirt_conn.listNetworks()
    # The session's network is untouched.
    _assert_isolated_with_dhcp(libvirt_conn, isolated_network)


def test_network_is_gone_when_the_body_raises(libvirt_conn: libvirt.virConnect) -> None:
    with pytest.raises(RuntimeError, match="boom"), testnet.isolated_network(libvirt_conn) as net:
        raise RuntimeError("boom")
    assert _network(libvirt_conn, net.name) is None


def test_network_xml_has_no_forward() -> None:
    net = IsolatedNetwork.for_slot(511)
    root = ET.fromstring(network_xml(net))
    assert root.find("forward") is None
    assert root.findtext("name") == "vigo-net-511"
    assert root.find("bridge").get("name") == "vigonet511"  # type: ignore[union-attr]
    assert str(net.subnet) == "198.19.255.0/24"
    assert root.find("ip").get("address") == "198.19.255.1"  # type: ignore[union-attr]
