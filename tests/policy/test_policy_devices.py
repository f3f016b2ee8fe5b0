"""The device limits: NICs per VM (vigo-vm-max-nics) and the disk a VM has attached in all,
root plus VigoDisks (vigo-vm-max-attached-disk); the rules alone and through the pack as the
CLI runs it, configurable per stack."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from policy_support import PACK_DIR, vm

from pulumi_vigo_vm.policies import (
    DEFAULT_MAX_NICS,
    MAX_ATTACHED_DISK_POLICY,
    MAX_NICS_POLICY,
    VIGO_DISK_TYPE,
    attached_disk_violations,
    nic_violation,
)
from pulumi_vigo_vm.testing.policy import PolicyRunner, Resource


def disk(name: str, **props: Any) -> Resource:
    return Resource.of(VIGO_DISK_TYPE, name, {"name": name, **props})


@given(count=st.integers(0, 40), limit=st.integers(1, 32))
def test_a_vm_breaks_the_nic_limit_exactly_when_it_has_more_nics(count: int, limit: int) -> None:
    props = {"vm_name": "web", "nics": [{"bridge": "br0"}] * count}
    assert (nic_violation(props, {"maxNics": limit}) is not None) == (count > limit)


def test_the_one_nic_shorthands_count_as_one() -> None:
    assert nic_violation({"vm_name": "a", "network_bridge": "br0"}, {"maxNics": 1}) is None
    assert nic_violation({"vm_name": "a", "network": "default"}, {"maxNics": 1}) is None
    many = {"vm_name": "a", "nics": [{"bridge": "br0"}] * (DEFAULT_MAX_NICS + 1)}
    assert nic_violation(many, {}) == f"VM 'a': 9 NICs exceed the limit of {DEFAULT_MAX_NICS}"


def test_attached_disk_sums_the_root_and_the_vigodisks_found_by_path() -> None:
    props = {
        "vm_name": "pg",
        "disk_size_gib": 20,
        "data_disks": [{"path": "/d/a.qcow2"}, {"path": "/d/b.qcow2"}, {"path": "/elsewhere"}],
    }
    sizes = {"/d/a.qcow2": 50, "/d/b.qcow2": 30}
    assert attached_disk_violations([("u", props)], sizes, {"maxAttachedDiskGib": 100}) == []
    [(urn, message)] = attached_disk_violations([("u", props)], sizes, {"maxAttachedDiskGib": 99})
    assert urn == "u"
    assert message == (
        "VM 'pg': 100 GiB of disk attached (root 20 GiB + 2 VigoDisk(s)) exceeds the limit of "
        "99 GiB"
    )
    # A VM without disk_size_gib counts the assumed default root size.
    bare = {"vm_name": "x", "data_disks": [{"path": "/d/a.qcow2"}]}
    config = {"maxAttachedDiskGib": 60, "defaultDiskSizeGib": 11}
    assert attached_disk_violations([("v", bare)], sizes, config) != []


def test_the_pack_runs_both_device_policies_with_per_stack_config() -> None:
    config = {MAX_NICS_POLICY: {"maxNics": 2}, MAX_ATTACHED_DISK_POLICY: {"maxAttachedDiskGib": 64}}
    path = "/var/lib/libvirt/images/disks/pg-data.qcow2"
    with PolicyRunner(PACK_DIR, config) as runner:
        [violation] = runner.analyze(vm("web", memory_mib=64, vcpu=1, nics=[{"bridge": "br0"}] * 3))
        assert violation.policy_name == MAX_NICS_POLICY and violation.mandatory
        pg = vm("pg", memory_mib=64, vcpu=1, disk_size_gib=20, data_disks=[{"path": path}])
        data = disk("pg-data", size_gib=50, path=path)
        [stack] = runner.analyze_stack([pg, data])
        assert stack.policy_name == MAX_ATTACHED_DISK_POLICY
        assert "70 GiB of disk attached" in stack.message
        assert runner.analyze_stack([pg, disk("pg-data", size_gib=40, path=path)]) == []
