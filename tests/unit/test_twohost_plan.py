"""The two-host rig's pure decisions (tests/support/twohost/plan.py): which rig number is
free, and B's config files with its own settings in force. The rig itself is proven end to
end in tests/rig/test_twohost.py."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from support.twohost.plan import RIGS, RigPlan, free_index, overridden, qemu_settings

BENCHMARKING = ipaddress.IPv4Network("198.18.0.0/15")


def test_each_rig_has_its_own_30_in_the_benchmarking_range() -> None:
    plans = [RigPlan(index, Path("/"), "") for index in range(RIGS)]
    nets = {ipaddress.IPv4Interface(f"{p.address_a}/30").network for p in plans}
    assert len(nets) == RIGS
    for plan in plans:
        a, b = ipaddress.IPv4Address(plan.address_a), ipaddress.IPv4Address(plan.address_b)
        assert a in BENCHMARKING and b in BENCHMARKING
        assert (
            ipaddress.IPv4Interface(f"{a}/30").network == ipaddress.IPv4Interface(f"{b}/30").network
        )
        assert len(plan.veth_a) <= 15 and len(plan.veth_b) <= 15  # IFNAMSIZ


def test_the_first_rig_whose_links_and_addresses_are_unused_is_taken() -> None:
    assert free_index(set(), set()) == 0
    assert free_index({"vgrig0a"}, set()) == 1
    assert free_index({"vgrig0b", "vgrig1a"}, set()) == 2
    assert free_index(set(), {"198.19.252.2"}) == 1
    with pytest.raises(RuntimeError, match="twohost down"):
        free_index({f"vgrig{n}a" for n in range(RIGS)}, set())


def test_own_settings_replace_the_files_own_including_lists_over_lines() -> None:
    text = (
        '# cgroup_controllers = [ "cpu" ]\n'
        'user = "libvirt-qemu"\n'
        'cgroup_controllers = [ "cpu",\n'
        '   "memory" ]\n'
        'migration_host = "old"\n'
        "max_files = 10\n"
    )
    result = overridden(text, qemu_settings(RigPlan(3, Path("/"), "")))
    live = [line for line in result.splitlines() if line and not line.startswith("#")]
    assert live == [
        'user = "libvirt-qemu"',
        "max_files = 10",
        "cgroup_controllers = [ ]",
        'migration_address = "198.19.252.14"',
        'migration_host = "198.19.252.14"',
    ]
