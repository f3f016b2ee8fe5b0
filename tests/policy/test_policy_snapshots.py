"""The snapshot limit (vigo-snapshot-max-per-vm): the rule alone, and through the pack as
the CLI runs it, configurable per stack."""

from __future__ import annotations

from typing import Any

import pytest
from policy_support import PACK_DIR

from pulumi_vigo_vm.common.typetokens import VIGO_SNAPSHOT
from pulumi_vigo_vm.policies import (
    DEFAULT_MAX_SNAPSHOTS_PER_VM,
    MAX_SNAPSHOTS_POLICY,
    snapshot_count_violations,
)
from pulumi_vigo_vm.policies.unique import DomainClaim
from pulumi_vigo_vm.testing.policy import PolicyRunner, PolicyViolationError, Resource


def snapshot(name: str, **props: Any) -> Resource:
    props.setdefault("vm_name", "web")
    return Resource.of(VIGO_SNAPSHOT, name, props)


def claims(count: int, **props: Any) -> list[DomainClaim]:
    return [DomainClaim(f"urn:s{i}", {"vm_name": "web", **props}) for i in range(count)]


def test_the_default_limit_counts_per_vm_and_host() -> None:
    at_limit = claims(DEFAULT_MAX_SNAPSHOTS_PER_VM)
    assert snapshot_count_violations(at_limit, {}, "qemu:///system") == []
    over = [*at_limit, DomainClaim("urn:x", {"vm_name": "web", "uri": "QEMU:///system/"})]
    violations = snapshot_count_violations(over, {}, "qemu:///system")
    assert len(violations) == DEFAULT_MAX_SNAPSHOTS_PER_VM + 1
    assert f"has {DEFAULT_MAX_SNAPSHOTS_PER_VM + 1} VigoSnapshots" in violations[0][1]
    other_vm = [*at_limit, DomainClaim("urn:y", {"vm_name": "db"})]
    assert snapshot_count_violations(other_vm, {}, "qemu:///system") == []


@pytest.mark.parametrize("limit", [0, "many", 2.5])
def test_a_bad_limit_fails_loudly(limit: object) -> None:
    with pytest.raises(ValueError, match="not a positive integer"):
        snapshot_count_violations(claims(1), {"maxSnapshotsPerVm": limit}, "qemu:///system")


def test_the_pack_limits_snapshots_per_vm_with_per_stack_config() -> None:
    config = {MAX_SNAPSHOTS_POLICY: {"maxSnapshotsPerVm": 2}}
    with PolicyRunner(PACK_DIR, config) as runner:
        two = [snapshot("a"), snapshot("b"), snapshot("c", vm_name="db")]
        assert runner.analyze_stack(two) == []
        violations = runner.analyze_stack([*two, snapshot("d")])
        assert {v.policy_name for v in violations} == {MAX_SNAPSHOTS_POLICY}
        assert len(violations) == 3 and "more than the limit of 2" in violations[0].message
        with pytest.raises(PolicyViolationError, match=MAX_SNAPSHOTS_POLICY):
            runner.enforce_stack([*two, snapshot("d")])
