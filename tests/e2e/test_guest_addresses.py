"""A booted guest on an isolated libvirt network (no forward, 198.18.0.0/15) reports its
address and readiness: one boot proves the lease, the agent and the console as sources, and
that wait_for="ready" returns after cloud-init's last user script and not before. Nothing
connects to the guest: proof comes from libvirt's lease table and the guest's console."""

from __future__ import annotations

import dataclasses
from typing import Any

import libvirt
import pytest
from support.network import IsolatedNetwork

from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.virt.target import Target
from pulumi_vigo_vm.vm.guest.addresses import Source
from pulumi_vigo_vm.vm.guest.sighting import Subject, sight
from pulumi_vigo_vm.vm.inputs import AddressSource
from pulumi_vigo_vm.vm.spec import parse_spec

from .support import Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

RAN = "VIGO-E2E-LAST-SCRIPT-RAN"
USER_DATA = f"""#cloud-config
runcmd:
  - [sh, -c, "sleep 5; echo {RAN} > /dev/ttyS0"]
"""


def _lease(conn: libvirt.virConnect, network: str, mac: str) -> str:
    leases = [x for x in conn.networkLookupByName(network).DHCPLeases() if x["mac"] == mac]
    assert len(leases) == 1, leases
    return str(leases[0]["ipaddr"])


def test_a_ready_guest_reports_its_lease_through_every_source(
    make_guest: Any, isolated_network: IsolatedNetwork, libvirt_conn: libvirt.virConnect
) -> None:
    guest: Guest = make_guest("e2e/addresses")
    guest.declare(
        USER_DATA,
        network_bridge=None,
        network=isolated_network.name,
        state="running",
        wait_for="ready",
        wait_timeout_s=600,
    )

    result = guest.up()

    # Returned after the last user script ran (it sleeps first): ready was not early.
    assert RAN in guest.boots()[-1]
    assert result.ops() == {"vm": "create"}
    outputs = guest.outputs()
    lease = _lease(libvirt_conn, isolated_network.name, outputs["mac_address"])
    assert outputs["ip_address"] == lease
    assert outputs["ip_addresses"][0] == lease
    assert outputs["mac_addresses"] == [outputs["mac_address"]]

    # Each source alone finds the same address on this one boot.
    spec = parse_spec(outputs, ProviderDefaults())
    target = Target.for_uri(spec.uri)
    domain = target.hypervisor.lookup(spec.vm_name)
    assert domain is not None
    for source in (AddressSource.LEASE, AddressSource.AGENT, AddressSource.CONSOLE):
        alone = dataclasses.replace(spec, address_source=source)
        seen = sight(
            Subject(
                target, alone, domain, [outputs["mac_address"]], outputs["console_log_path"], None
            )
        )
        assert seen.addresses.ip_address == lease, (source, seen)
        assert seen.addresses.sources == (Source(source.value),)
    assert seen.console.finished

    refreshed = guest.lab.harness().refresh()
    assert refreshed.ops() == {"vm": "read"}
    assert guest.outputs()["ip_address"] == lease
    assert guest.lab.harness().preview().counts() == {"same": 1}
