"""The PolicyRunner API that tests and the engine harness use."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_support import PACK_DIR, vm
from pulumi.runtime.proto import analyzer_pb2

from pulumi_vigo_vm.policies import MAX_MEMORY_POLICY, MAX_VCPU_POLICY, UNIQUE_DOMAIN_POLICY
from pulumi_vigo_vm.testing.policy import (
    UNKNOWN,
    UNKNOWN_SENTINEL,
    Diagnostic,
    PolicyRunner,
    PolicyViolationError,
    Resource,
    Secret,
    make_urn,
    mandatory_violations,
    raise_on_mandatory,
    to_struct,
)


def test_resource_of_builds_the_engine_urn() -> None:
    resource = Resource.of("pkg:mod:T", "web", {"a": 1}, project="p", stack="s")
    assert (
        resource.urn
        == "urn:pulumi:s::p::pkg:mod:T::web"
        == make_urn("pkg:mod:T", "web", project="p", stack="s")
    )


def test_to_struct_marshals_unknowns_secrets_and_numbers_like_the_engine() -> None:
    struct = to_struct({"n": 4096, "u": UNKNOWN, "s": Secret("x"), "l": [UNKNOWN, {"k": 1}]})
    as_dict = dict(struct)
    assert as_dict["n"] == 4096.0 and isinstance(as_dict["n"], float)
    assert as_dict["u"] == UNKNOWN_SENTINEL
    assert dict(as_dict["s"])["value"] == "x"
    assert list(as_dict["l"])[:1] == [UNKNOWN_SENTINEL]


def test_each_harness_fact_has_one_home() -> None:
    from pulumi_vigo_vm import testing
    from pulumi_vigo_vm.testing import errors, policy, policy_analyzer, props

    assert policy.UNKNOWN is props.UNKNOWN is testing.UNKNOWN == UNKNOWN_SENTINEL
    assert policy.PolicyViolationError is errors.PolicyViolationError
    assert policy.to_struct is props.to_struct and policy.Secret is props.Secret
    assert policy_analyzer.to_violation is policy.to_violation


def test_a_runner_refusal_is_the_harness_policy_error() -> None:
    advisory = Diagnostic("p", "fine", "advisory", "urn:a")
    mandatory = Diagnostic("q", "too big", "mandatory", "urn:b")
    with pytest.raises(PolicyViolationError) as error:
        raise_on_mandatory([advisory, mandatory])
    [violation] = error.value.violations
    assert (violation.policy, violation.message, violation.urn, violation.mandatory) == (
        "q",
        "too big",
        "urn:b",
        True,
    )
    assert "q (urn:b): too big" in str(error.value) and "fine" not in str(error.value)


def test_mandatory_helpers() -> None:
    advisory = Diagnostic("p", "m", "advisory", "urn:a")
    mandatory = Diagnostic("p", "m", "mandatory", "urn:b")
    assert mandatory_violations([advisory, mandatory]) == [mandatory]
    raise_on_mandatory([advisory])
    with pytest.raises(PolicyViolationError) as error:
        raise_on_mandatory([advisory, mandatory])
    assert error.value.diagnostics == [advisory, mandatory]


def test_enforce_raises_on_mandatory_and_returns_advisories() -> None:
    config = {MAX_VCPU_POLICY: "advisory"}
    with PolicyRunner(PACK_DIR, config) as runner:
        [advisory] = runner.enforce(vm("a", memory_mib=1, vcpu=64))
        assert advisory.enforcement_level == "advisory"
        with pytest.raises(PolicyViolationError, match=MAX_MEMORY_POLICY) as error:
            runner.enforce(vm("b", memory_mib=10**6, vcpu=64))
        assert {d.policy_name for d in error.value.diagnostics} == {
            MAX_MEMORY_POLICY,
            MAX_VCPU_POLICY,
        }
        with pytest.raises(PolicyViolationError, match=UNIQUE_DOMAIN_POLICY):
            runner.enforce_stack([vm("c", vm_name="x"), vm("d", vm_name="x")])
        assert runner.enforce_stack([vm("c"), vm("d")]) == []


def test_all_level_and_per_policy_override() -> None:
    config = {"all": "advisory", MAX_MEMORY_POLICY: {"enforcementLevel": "mandatory"}}
    with PolicyRunner(PACK_DIR) as runner:
        runner.configure(config)
        levels = {
            d.policy_name: d.enforcement_level
            for d in runner.analyze(vm("x", memory_mib=10**6, vcpu=99))
        }
        assert levels == {MAX_MEMORY_POLICY: "mandatory", MAX_VCPU_POLICY: "advisory"}


def test_configure_request_fills_schema_defaults_like_the_cli(default_runner: PolicyRunner) -> None:
    request = default_runner.configure_request()
    memory = request.policyConfig[MAX_MEMORY_POLICY]
    assert memory.enforcementLevel == analyzer_pb2.MANDATORY
    assert dict(memory.properties) == {"maxMemoryMib": 65536.0}
    assert set(request.policyConfig) == set(default_runner.policy_names)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"no-such-policy": "mandatory"}, "no such policy"),
        ({MAX_VCPU_POLICY: {"maxCpus": 4}}, "no config property maxCpus"),
        ({MAX_VCPU_POLICY: "strict"}, "unknown enforcement level"),
        ({MAX_VCPU_POLICY: 4}, "must be a level or an object"),
    ],
)
def test_bad_config_is_refused_before_analysis(
    default_runner: PolicyRunner, config: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        default_runner.configure(config)
    assert default_runner.config == {}  # unchanged


def test_bad_config_stops_start() -> None:
    runner = PolicyRunner(PACK_DIR, {"no-such-policy": "advisory"})
    with pytest.raises(ValueError, match="no such policy"):
        runner.start()
    assert runner._process is None  # nothing left running


def test_missing_pack_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"PulumiPolicy\.yaml"):
        PolicyRunner(tmp_path).start()


def test_pack_that_fails_to_start_reports_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('pack is broken')\n")
    with pytest.raises(RuntimeError, match="pack is broken"):
        PolicyRunner(tmp_path, timeout=10).start()


def test_close_stops_the_pack_and_is_idempotent() -> None:
    runner = PolicyRunner(PACK_DIR)
    with runner:
        process = runner._process
        assert process is not None and process.poll() is None
    assert process.poll() is not None
    runner.close()
    with pytest.raises(RuntimeError, match="not started"):
        runner.analyze(vm("x"))


def test_unknown_memory_via_runner_is_advisory(default_runner: PolicyRunner) -> None:
    diagnostics = default_runner.analyze(vm("u", memory_mib=UNKNOWN, vcpu=1))
    assert [(d.policy_name, d.mandatory) for d in diagnostics] == [(MAX_MEMORY_POLICY, False)]
    assert diagnostics[0].urn == vm("u").urn
