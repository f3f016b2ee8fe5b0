"""The VigoDisk size limit (vigo-disk-max-size): the rule alone, and through the pack as the
CLI runs it, configurable per stack like the VM limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_support import PACK_DIR, vm

from pulumi_vigo_vm.disk.spec import check_inputs
from pulumi_vigo_vm.policies import (
    DEFAULT_MAX_DATA_DISK_SIZE_GIB,
    MAX_DATA_DISK_POLICY,
    MAX_DISK_POLICY,
    VIGO_DISK_TYPE,
    data_disk_violation,
)
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.testing.policy import PolicyRunner, PolicyViolationError, Resource


def disk(name: str, **props: Any) -> Resource:
    props.setdefault("name", name)
    return Resource.of(VIGO_DISK_TYPE, name, props)


def test_the_default_limit_applies_without_config() -> None:
    at_limit = {"name": "pg-data", "size_gib": DEFAULT_MAX_DATA_DISK_SIZE_GIB}
    assert data_disk_violation(at_limit, {}) is None
    message = data_disk_violation({**at_limit, "size_gib": DEFAULT_MAX_DATA_DISK_SIZE_GIB + 1}, {})
    assert message == (
        f"disk 'pg-data': size_gib {DEFAULT_MAX_DATA_DISK_SIZE_GIB + 1} GiB exceeds the limit "
        f"of {DEFAULT_MAX_DATA_DISK_SIZE_GIB} GiB"
    )


@given(limit=st.integers(1, 10**6), value=st.integers(1, 2 * 10**6))
def test_violation_exactly_when_the_size_exceeds_the_configured_limit(
    limit: int, value: int
) -> None:
    for form in (value, float(value), str(value)):
        message = data_disk_violation({"name": "d", "size_gib": form}, {"maxSizeGib": limit})
        assert (message is not None) == (value > limit)


@pytest.mark.parametrize("value", ["lots", 0, 2.5, True])
def test_a_size_the_provider_would_refuse_is_a_violation_too(value: object) -> None:
    message = data_disk_violation({"name": "d", "size_gib": value}, {})
    assert message is not None and "not a positive integer" in message
    assert check_inputs(
        {"name": "d", "size_gib": value, "claim": "o/urn:pulumi:x"}, ProviderDefaults()
    )[1]


def test_a_missing_size_is_left_to_the_providers_own_check() -> None:
    assert data_disk_violation({"name": "d"}, {}) is None


def test_the_pack_judges_disks_by_their_type_and_takes_per_stack_config() -> None:
    config = {MAX_DATA_DISK_POLICY: {"maxSizeGib": 100}}
    with PolicyRunner(PACK_DIR, config) as runner:
        [violation] = runner.analyze(disk("big", size_gib=101))
        assert violation.policy_name == MAX_DATA_DISK_POLICY and violation.mandatory
        assert "disk 'big': size_gib 101 GiB exceeds the limit of 100 GiB" in violation.message
        assert runner.analyze(disk("ok", size_gib="100")) == []
        # A VM's disk_size_gib is its own policy's; a disk's limit never judges a VM.
        vm_diagnostics = runner.analyze(vm("web", memory_mib=64, vcpu=1, disk_size_gib=101))
        assert MAX_DATA_DISK_POLICY not in {d.policy_name for d in vm_diagnostics}
        with pytest.raises(PolicyViolationError, match=MAX_DATA_DISK_POLICY):
            runner.enforce(disk("big", size_gib=101))


def test_the_disk_limit_can_be_made_advisory_per_stack() -> None:
    config = {MAX_DATA_DISK_POLICY: {"enforcementLevel": "advisory"}}
    with PolicyRunner(PACK_DIR, config) as runner:
        [advisory] = runner.enforce(disk("big", size_gib=DEFAULT_MAX_DATA_DISK_SIZE_GIB + 1))
        assert advisory.enforcement_level == "advisory"
        assert advisory.policy_name != MAX_DISK_POLICY
