"""The hardware limits (operations spec §4): host devices per VM (vigo-vm-max-host-devices)
and memory on huge pages per VM (vigo-vm-max-hugepage-memory); the rules alone and through
the pack as the CLI runs it, configurable per stack."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from policy_support import PACK_DIR, vm

from pulumi_vigo_vm.policies import (
    DEFAULT_MAX_HOST_DEVICES,
    MAX_HOST_DEVICES_POLICY,
    MAX_HUGEPAGE_MEMORY_POLICY,
    host_devices_violation,
    hugepage_memory_violation,
)
from pulumi_vigo_vm.testing.policy import PolicyRunner


@given(count=st.integers(0, 40), limit=st.integers(0, 32))
def test_a_vm_breaks_the_host_device_limit_exactly_when_it_has_more(count: int, limit: int) -> None:
    props = {"vm_name": "gpu", "host_devices": [{"pci": "0000:3b:00.0"}] * count}
    assert (host_devices_violation(props, {"maxHostDevices": limit}) is not None) == (count > limit)


def test_the_default_limit_and_zero_forbidding_passthrough() -> None:
    many = {"vm_name": "a", "host_devices": [{"usb": "046d:c52b"}] * (DEFAULT_MAX_HOST_DEVICES + 1)}
    assert host_devices_violation(many, {}) == (
        "VM 'a': 5 host devices passed through exceed the limit of 4 (each leaves its host "
        "while the VM runs)"
    )
    one = {"vm_name": "a", "host_devices": [{"pci": "0000:3b:00.0"}]}
    assert host_devices_violation(one, {"maxHostDevices": 0}) is not None
    assert host_devices_violation({"vm_name": "a"}, {"maxHostDevices": 0}) is None


def test_huge_page_memory_counts_the_memory_the_vm_boots_with_only_on_huge_pages() -> None:
    config = {"maxHugepageMemoryMib": 8192}
    assert hugepage_memory_violation({"vm_name": "db", "memory_mib": 16384}, config) is None
    huge = {"vm_name": "db", "memory_mib": 4096, "hugepages": 2048}
    assert hugepage_memory_violation(huge, config) is None
    assert hugepage_memory_violation({**huge, "max_memory_mib": 9000.0}, config) == (
        "VM 'db': 9000 MiB on huge pages exceed the limit of 8192 MiB (huge pages are "
        "reserved, unswappable host memory)"
    )
    assert hugepage_memory_violation({**huge, "hugepages": "true", "memory_mib": "9000"}, config)
    assert (
        hugepage_memory_violation({**huge, "hugepages": False, "memory_mib": 9000}, config) is None
    )


def test_the_pack_runs_both_hardware_policies_with_per_stack_config() -> None:
    config = {
        MAX_HOST_DEVICES_POLICY: {"maxHostDevices": 0},
        MAX_HUGEPAGE_MEMORY_POLICY: {"maxHugepageMemoryMib": 1024},
    }
    with PolicyRunner(PACK_DIR, config) as runner:
        [violation] = runner.analyze(
            vm("gpu", memory_mib=64, vcpu=1, host_devices=[{"pci": "0000:3b:00.0"}])
        )
        assert violation.policy_name == MAX_HOST_DEVICES_POLICY and violation.mandatory
        [violation] = runner.analyze(vm("db", memory_mib=2048, vcpu=1, hugepages=True))
        assert violation.policy_name == MAX_HUGEPAGE_MEMORY_POLICY
        assert "2048 MiB on huge pages" in violation.message
        assert runner.analyze(vm("db", memory_mib=1024, vcpu=1, hugepages=2048)) == []
