"""Addresses and waits against a real libvirtd, without booting an OS (the guests' disks are
blank, so nothing ever answers): the timeout path, what check refuses, and that a kept VM is
adopted by the next run. Booted guests prove the sources themselves (tests/e2e)."""

from __future__ import annotations

import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import CheckFailedError, ProviderError
from pulumi_vigo_vm.vm.filenames import console_log_path

pytestmark = pytest.mark.libvirt


def test_a_wait_that_cannot_succeed_times_out_keeps_the_vm_and_the_next_up_adopts_it(
    lab: Lab,
) -> None:
    lab.vm("a", network_bridge=lab.bridge, wait_for="ready", wait_timeout_s=3)

    with pytest.raises(ProviderError) as caught:
        lab.up()

    message = str(caught.value)
    assert "waited for cloud-init to finish this boot: not within 3 s" in message
    assert console_log_path(lab.name("a")) in message
    assert lab.power("a") == "running"  # kept, as the error says
    uuid = lab.domain("a").UUIDString()
    assert lab.harness().snapshot().program_resources() == []

    lab.vm("a", network_bridge=lab.bridge)
    result = lab.up()

    assert result.ops() == {"a": "create"}
    assert lab.domain("a").UUIDString() == uuid
    outputs = lab.harness().snapshot().program_resources()[0].plain_outputs()
    assert outputs.get("ip_address") is None and outputs["ip_addresses"] == []  # null: dropped
    assert outputs["mac_addresses"] == [outputs["mac_address"]]
    assert lab.harness().preview().counts() == {"same": 1}


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"wait_for": "ip"}, "needs a NIC"),
        ({"wait_for": "ip", "network_bridge": "br0", "state": "stopped"}, "running guest"),
        ({"network_bridge": "br0", "network": "default"}, "not both"),
        ({"address_source": "dns"}, "must be one of any, lease, agent, arp, console"),
    ],
)
def test_check_refuses_waits_that_cannot_work_before_any_host_call(
    lab: Lab, args: dict[str, str], reason: str
) -> None:
    lab.vm("a", **args)

    with pytest.raises(CheckFailedError, match=reason):
        lab.up()

    assert lab.domain("a") is None
