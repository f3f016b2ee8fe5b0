"""A NIC's bridge or libvirt network is looked up on a real host at preview: one that is not
there fails ``preview`` naming the input, before anything is defined."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from support.lab import Lab
from support.openvswitch import ovs_bridge

from pulumi_vigo_vm.testing import CheckFailedError

pytestmark = pytest.mark.libvirt


@pytest.mark.parametrize(
    ("nic_args", "prop", "fragment"),
    [
        ({"nics": [{"bridge": "BRIDGE"}, {"network": "results-nonet"}]}, "nics", "[1].network"),
        (
            {"nics": [{"bridge": "resultsnobr0"}]},
            "nics",
            "[0].bridge 'resultsnobr0' is not a bridge",
        ),
        ({"network_bridge": "resultsnobr0"}, "network_bridge", "'resultsnobr0' is not a bridge"),
        ({"network": "results-nonet"}, "network", "no libvirt network of that name"),
        ({"nics": [{"bridge": "BRIDGE", "vlan": 42}]}, "nics", "is a Linux bridge on"),
        (
            {"nics": [{"bridge": "resultsnobr0", "vlan": 42}]},
            "nics",
            "has no bridge 'resultsnobr0'",
        ),
    ],
)
def test_a_nic_on_a_missing_bridge_or_network_fails_preview_naming_it(
    lab: Lab, nic_args: dict[str, Any], prop: str, fragment: str
) -> None:
    nic_args = json.loads(json.dumps(nic_args).replace("BRIDGE", lab.bridge))
    lab.vm("a", state="defined", **nic_args)

    with pytest.raises(CheckFailedError) as caught:
        lab.preview()

    (failure,) = caught.value.failures
    assert failure.property == prop and fragment in failure.reason, failure
    with pytest.raises(CheckFailedError):
        lab.up()
    assert lab.domains() == set() and lab.files() == set()


def test_an_existing_vm_gaining_a_nic_on_a_missing_network_fails_preview(lab: Lab) -> None:
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}])
    lab.up()
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}, {"network": "results-nonet"}])

    with pytest.raises(CheckFailedError, match=r"\[1\]\.network 'results-nonet'"):
        lab.preview()


def test_a_tagged_nic_on_an_open_vswitch_bridge_is_defined_as_its_port(lab: Lab) -> None:
    """The bridge is judged again when a NIC on it gains a tag (it must now be OVS's)."""
    lab.vm("a", state="defined", nics=[{"bridge": lab.bridge}])
    lab.up()
    with ovs_bridge("resultsovs0") as bridge:
        lab.vm("a", state="defined", nics=[{"bridge": lab.bridge, "vlan": 42}])
        with pytest.raises(CheckFailedError, match="is a Linux bridge on"):
            lab.preview()
        lab.vm("a", state="defined", nics=[{"bridge": bridge, "vlan": 42}])
        lab.up()
        domain = lab.domain("a")
        assert domain is not None
        (nic,) = ET.fromstring(domain.XMLDesc(0)).findall("devices/interface")
        assert nic.find("virtualport").get("type") == "openvswitch"
        assert nic.find("vlan/tag").get("id") == "42"
        assert lab.preview().counts() == {"same": 1}
