"""The real analyzer, started as the CLI starts it, driven over gRPC.

The CLI (through the Python language host) runs ``python -u -m pulumi.policy
<engine-address> .`` in the pack directory, reads the Analyzer port from the first stdout
line, then calls GetAnalyzerInfo, Configure, Analyze and AnalyzeStack.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2
from policy_support import PACK_DIR, vm
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from pulumi_vigo_vm.policies import (
    DEFAULT_MAX_DISK_SIZE_GIB,
    DEFAULT_MAX_MEMORY_MIB,
    DEFAULT_MAX_VCPU,
    MAX_ATTACHED_DISK_POLICY,
    MAX_DATA_DISK_POLICY,
    MAX_DISK_POLICY,
    MAX_MEMORY_POLICY,
    MAX_NICS_POLICY,
    MAX_VCPU_POLICY,
    OPEN_DISPLAY_POLICY,
    UNIQUE_DOMAIN_POLICY,
)
from pulumi_vigo_vm.policies.snapshots import MAX_SNAPSHOTS_POLICY
from pulumi_vigo_vm.policies.tuning import MAX_HOST_DEVICES_POLICY, MAX_HUGEPAGE_MEMORY_POLICY
from pulumi_vigo_vm.testing.policy import (
    UNKNOWN,
    Diagnostic,
    FakeEngine,
    PolicyRunner,
    Resource,
    Secret,
    to_struct,
)

POLICIES = [
    MAX_MEMORY_POLICY,
    MAX_VCPU_POLICY,
    MAX_DISK_POLICY,
    MAX_DATA_DISK_POLICY,
    MAX_NICS_POLICY,
    OPEN_DISPLAY_POLICY,
    MAX_ATTACHED_DISK_POLICY,
    UNIQUE_DOMAIN_POLICY,
    MAX_SNAPSHOTS_POLICY,
    MAX_HOST_DEVICES_POLICY,
    MAX_HUGEPAGE_MEMORY_POLICY,
]


def by_policy(diagnostics: list[Diagnostic]) -> dict[str, list[Diagnostic]]:
    grouped: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        grouped.setdefault(d.policy_name, []).append(d)
    return grouped


def sized(name: str, memory: object = 4096, vcpu: object = 2, disk: object = 20) -> Resource:
    return vm(name, memory_mib=memory, vcpu=vcpu, disk_size_gib=disk)


# ------------------------------------------------------------------ started by hand


@pytest.fixture(scope="module")
def raw_stub() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started exactly as the CLI does, without the runner's help."""
    engine = FakeEngine()
    address = engine.start()
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", address, "."],
        cwd=PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.communicate(timeout=10)
        engine.stop()


def test_analyzer_info_lists_policies_levels_and_schemas(
    raw_stub: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    info = raw_stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
    assert info.name == "vigo-vm"
    assert info.supportsConfig
    assert [p.name for p in info.policies] == POLICIES
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    types = [p.policy_type for p in info.policies]
    assert types == (
        [analyzer_pb2.POLICY_TYPE_RESOURCE] * 6
        + [analyzer_pb2.POLICY_TYPE_STACK] * 3
        + [analyzer_pb2.POLICY_TYPE_RESOURCE] * 2
    )
    memory = info.policies[0].configSchema.properties["maxMemoryMib"]
    assert memory["type"] == "integer" and memory["default"] == DEFAULT_MAX_MEMORY_MIB
    assert raw_stub.GetPluginInfo(empty_pb2.Empty(), timeout=10).version


def test_raw_analyze_reports_over_limit_vm(raw_stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
    resource = sized("big", memory=DEFAULT_MAX_MEMORY_MIB + 1)
    response = raw_stub.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=to_struct(resource.properties),
        ),
        timeout=10,
    )
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == MAX_MEMORY_POLICY
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "VM 'big': memory_mib 65537 MiB exceeds the limit of 65536 MiB" in diagnostic.message


# ------------------------------------------------------------------ limits, no Configure


@pytest.mark.parametrize("runner_name", ["default_runner", "unconfigured_runner"])
def test_within_and_at_limit_pass(runner_name: str, request: pytest.FixtureRequest) -> None:
    runner: PolicyRunner = request.getfixturevalue(runner_name)
    assert runner.analyze(sized("small")) == []
    at_limit = sized("edge", DEFAULT_MAX_MEMORY_MIB, DEFAULT_MAX_VCPU, DEFAULT_MAX_DISK_SIZE_GIB)
    assert runner.analyze(at_limit) == []


@pytest.mark.parametrize("runner_name", ["default_runner", "unconfigured_runner"])
def test_over_limit_is_mandatory_and_named(
    runner_name: str, request: pytest.FixtureRequest
) -> None:
    runner: PolicyRunner = request.getfixturevalue(runner_name)
    over = sized(
        "huge", DEFAULT_MAX_MEMORY_MIB + 1, DEFAULT_MAX_VCPU + 1, DEFAULT_MAX_DISK_SIZE_GIB + 1
    )
    found = by_policy(runner.analyze(over))
    assert sorted(found) == sorted([MAX_MEMORY_POLICY, MAX_VCPU_POLICY, MAX_DISK_POLICY])
    for policy, value, limit in [
        (MAX_MEMORY_POLICY, DEFAULT_MAX_MEMORY_MIB + 1, DEFAULT_MAX_MEMORY_MIB),
        (MAX_VCPU_POLICY, DEFAULT_MAX_VCPU + 1, DEFAULT_MAX_VCPU),
        (MAX_DISK_POLICY, DEFAULT_MAX_DISK_SIZE_GIB + 1, DEFAULT_MAX_DISK_SIZE_GIB),
    ]:
        [d] = found[policy]
        assert d.mandatory and d.urn == over.urn
        assert (
            "'huge'" in d.message and str(value) in d.message and f"limit of {limit}" in d.message
        )


@pytest.mark.parametrize(
    ("memory", "vcpu", "disk"),
    [("4096", "4", "20"), (4096.0, 4.0, 20.0), (" 65536 ", "32.0", "2048")],
)
def test_string_and_float_numbers_are_read_as_ints(
    default_runner: PolicyRunner, memory: object, vcpu: object, disk: object
) -> None:
    assert default_runner.analyze(sized("typed", memory, vcpu, disk)) == []


def test_string_number_over_limit_is_judged(default_runner: PolicyRunner) -> None:
    [d] = default_runner.analyze(sized("s", vcpu="33"))
    assert d.policy_name == MAX_VCPU_POLICY and "vcpu 33 exceeds the limit of 32" in d.message


def test_malformed_number_is_a_mandatory_violation(default_runner: PolicyRunner) -> None:
    [d] = default_runner.analyze(sized("bad", memory="lots"))
    assert d.policy_name == MAX_MEMORY_POLICY and d.mandatory
    assert "'lots' is not a positive integer" in d.message


@pytest.mark.parametrize("memory", ["4e3", "4.5", True])
def test_a_number_the_provider_refuses_is_a_mandatory_violation(
    default_runner: PolicyRunner, memory: object
) -> None:
    [d] = default_runner.analyze(sized("e", memory=memory))
    assert d.policy_name == MAX_MEMORY_POLICY and d.mandatory
    assert f"memory_mib {memory!r} is not a positive integer" in d.message


def test_missing_disk_size_uses_the_default(default_runner: PolicyRunner) -> None:
    assert default_runner.analyze(vm("nodisk", memory_mib=1024, vcpu=1)) == []


def test_other_resource_types_are_ignored(default_runner: PolicyRunner) -> None:
    other = Resource.of("random:index/randomPet:RandomPet", "pet", {"memory_mib": 10**9})
    assert default_runner.analyze(other) == []
    assert default_runner.analyze_stack([other, other]) == []


def test_secret_user_data_is_accepted_and_not_echoed(default_runner: PolicyRunner) -> None:
    resource = vm("s", memory_mib=10**6, vcpu=1, cloud_init_user_data=Secret("#cloud-config pw"))
    [d] = default_runner.analyze(resource)
    assert d.policy_name == MAX_MEMORY_POLICY and "pw" not in d.message


# ------------------------------------------------------------------ unknowns


def test_unknown_size_is_not_judged_and_never_blocks(default_runner: PolicyRunner) -> None:
    resource = vm("later", memory_mib=UNKNOWN, vcpu=64, disk_size_gib=UNKNOWN)
    found = by_policy(default_runner.analyze(resource))
    assert sorted(found) == sorted([MAX_MEMORY_POLICY, MAX_VCPU_POLICY, MAX_DISK_POLICY])
    for policy in (MAX_MEMORY_POLICY, MAX_DISK_POLICY):
        [d] = found[policy]
        assert d.enforcement_level == "advisory" and "can't be known during preview" in d.message
    [vcpu] = found[MAX_VCPU_POLICY]  # the known value is still judged
    assert vcpu.mandatory and "vcpu 64" in vcpu.message


def test_unknown_vm_name_still_judges_sizes(default_runner: PolicyRunner) -> None:
    assert default_runner.analyze(vm("n", vm_name=UNKNOWN, vcpu=2)) == []
    [d] = default_runner.analyze(vm("n", vm_name=UNKNOWN, vcpu=99))
    assert d.mandatory and "vm_name unknown" in d.message


# ------------------------------------------------------------------ Configure


def configure(runner: PolicyRunner, policy_config: dict[str, analyzer_pb2.PolicyConfig]) -> None:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, config in policy_config.items():
        request.policyConfig[name].CopyFrom(config)
    runner.stub.Configure(request, timeout=10)


@pytest.fixture
def fresh_runner() -> Iterator[PolicyRunner]:
    with PolicyRunner(PACK_DIR, configure=False) as runner:
        yield runner


def test_configure_with_only_levels_keeps_code_defaults(fresh_runner: PolicyRunner) -> None:
    configure(
        fresh_runner,
        {
            name: analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY)
            for name in POLICIES
        },
    )
    assert fresh_runner.analyze(sized("ok", DEFAULT_MAX_MEMORY_MIB)) == []
    [d] = fresh_runner.analyze(sized("big", DEFAULT_MAX_MEMORY_MIB + 1))
    assert d.mandatory


def test_configured_limits_apply_at_and_over(fresh_runner: PolicyRunner) -> None:
    mandatory = analyzer_pb2.MANDATORY
    configure(
        fresh_runner,
        {
            MAX_MEMORY_POLICY: analyzer_pb2.PolicyConfig(
                enforcementLevel=mandatory, properties=to_struct({"maxMemoryMib": 8192})
            ),
            MAX_VCPU_POLICY: analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.ADVISORY, properties=to_struct({"maxVcpu": 4})
            ),
            MAX_DISK_POLICY: analyzer_pb2.PolicyConfig(
                enforcementLevel=mandatory,
                properties=to_struct({"maxDiskSizeGib": 100, "defaultDiskSizeGib": 200}),
            ),
            UNIQUE_DOMAIN_POLICY: analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.DISABLED),
        },
    )
    assert fresh_runner.analyze(sized("at", 8192, 4, 100)) == []
    found = by_policy(fresh_runner.analyze(sized("over", 8193, 5, 101)))
    assert [d.enforcement_level for d in found[MAX_MEMORY_POLICY]] == ["mandatory"]
    assert [d.enforcement_level for d in found[MAX_VCPU_POLICY]] == ["advisory"]
    assert "limit of 100 GiB" in found[MAX_DISK_POLICY][0].message
    [d] = fresh_runner.analyze(vm("nodisk", memory_mib=1, vcpu=1))
    assert "assumed default of 200 GiB exceeds the limit of 100 GiB" in d.message
    assert fresh_runner.analyze_stack([sized("a"), sized("a")]) == []  # disabled


def test_malformed_config_is_an_error_not_a_crash(fresh_runner: PolicyRunner) -> None:
    configure(
        fresh_runner,
        {
            MAX_VCPU_POLICY: analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.MANDATORY, properties=to_struct({"maxVcpu": "x"})
            )
        },
    )
    with pytest.raises(grpc.RpcError) as error:
        fresh_runner.analyze(sized("v"))
    assert "maxVcpu" in str(error.value)
    configure(fresh_runner, {})  # the pack is still alive and can be reconfigured
    assert fresh_runner.analyze(sized("v")) == []


# ------------------------------------------------------------------ AnalyzeStack


def test_duplicate_domain_is_mandatory_on_each_resource(default_runner: PolicyRunner) -> None:
    first = vm("web-a", vm_name="web")
    second = vm("web-b", vm_name="web", uri="qemu:///system/")
    elsewhere = vm("web-c", vm_name="web", uri="qemu+ssh://host/system")
    diagnostics = default_runner.analyze_stack([first, second, elsewhere, vm("db")])
    assert [(d.policy_name, d.urn, d.mandatory) for d in diagnostics] == [
        (UNIQUE_DOMAIN_POLICY, first.urn, True),
        (UNIQUE_DOMAIN_POLICY, second.urn, True),
    ]
    assert (
        second.urn in diagnostics[0].message and "'web' on qemu:///system" in diagnostics[0].message
    )


def test_distinct_domains_pass(default_runner: PolicyRunner) -> None:
    resources = [vm("a"), vm("b"), vm("a2", vm_name="a", uri="qemu:///session")]
    assert default_runner.analyze_stack(resources) == []


def test_unknown_uri_is_skipped_and_others_still_checked(default_runner: PolicyRunner) -> None:
    later = vm("later", vm_name="w", uri=UNKNOWN)
    diagnostics = default_runner.analyze_stack(
        [later, vm("w1", vm_name="w"), vm("w2", vm_name="w")]
    )
    assert {d.urn for d in diagnostics} == {vm("w1").urn, vm("w2").urn}
    assert all(d.mandatory for d in diagnostics)


def test_default_uri_from_pack_config() -> None:
    config = {UNIQUE_DOMAIN_POLICY: {"defaultUri": "qemu+ssh://h/system"}}
    with PolicyRunner(PACK_DIR, config) as runner:
        pair = [vm("a", vm_name="x"), vm("b", vm_name="x", uri="qemu+ssh://H/system/")]
        assert len(runner.analyze_stack(pair)) == 2
        assert (
            runner.analyze_stack([vm("c", vm_name="x"), vm("d", vm_name="x", uri="qemu:///system")])
            == []
        )


def test_default_uri_from_stack_vigo_uri_config() -> None:
    with PolicyRunner(PACK_DIR, stack_config={"vigo:uri": "qemu+ssh://h/system"}) as runner:
        pair = [vm("a", vm_name="x"), vm("b", vm_name="x", uri="qemu+ssh://h/system")]
        assert len(runner.analyze_stack(pair)) == 2
        assert (
            runner.analyze_stack([vm("c", vm_name="x"), vm("d", vm_name="x", uri="qemu:///system")])
            == []
        )
