"""Unit tests of the rules in pulumi_vigo_vm.policies, without the policy engine."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from pulumi_vigo_vm import policies
from pulumi_vigo_vm.errors import InputFault
from pulumi_vigo_vm.policies import (
    DEFAULT_DISK_SIZE_GIB,
    DEFAULT_MAX_DISK_SIZE_GIB,
    DEFAULT_MAX_MEMORY_MIB,
    DEFAULT_MAX_VCPU,
    DEFAULT_URI,
    DomainClaim,
    build_policies,
    coerce_positive_int,
    disk_violation,
    domain_key,
    duplicate_domain_violations,
    memory_violation,
    normalize_uri,
    vcpu_violation,
)
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.inputs import MAX_VCPU
from pulumi_vigo_vm.vm.spec import check_inputs

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
VALID_INPUTS = {"vm_name": "vm", "memory_mib": 4096, "vcpu": 2, "disk_path": "/srv/base.qcow2"}


def provider_faults(**props: Any) -> list[InputFault]:
    """What the provider's own input check says of ``props`` (over valid VM inputs)."""
    return check_inputs({**VALID_INPUTS, **props}, ProviderDefaults(), require_claim=False)[1]


# ------------------------------------------------------------------ coerce_positive_int

positive = st.integers(min_value=1, max_value=10**12)


@given(positive)
def test_every_wire_form_of_a_positive_int_means_that_int(n: int) -> None:
    for form in (n, float(n), str(n), f" {n} ", f"{n}.0", f"+{n}"):
        assert coerce_positive_int(form) == n


def test_huge_numbers_are_exact() -> None:
    assert coerce_positive_int("99999999999999999999") == 99999999999999999999
    assert coerce_positive_int(str(2**53 + 1)) == 2**53 + 1  # no detour through a double


@pytest.mark.parametrize("value", ["4e3", "4E3", "1.5e3", "+4e3", " 4e3 "])
def test_exponents_are_refused_as_the_provider_refuses_them(value: str) -> None:
    with pytest.raises(ValueError, match="not a positive integer"):
        coerce_positive_int(value)
    [fault] = [f for f in provider_faults(memory_mib=value) if f.property == "memory_mib"]
    assert fault.reason == f"must be a whole number MiB, got {value!r}"
    message = memory_violation({"vm_name": "vm", "memory_mib": value}, {})
    assert message == (
        f"VM 'vm': memory_mib {value!r} is not a positive integer, so it cannot be checked "
        f"against the limit of {DEFAULT_MAX_MEMORY_MIB} MiB"
    )


SIZE_FORMS = st.one_of(
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.from_regex(r"\A\s?[+-]?\d{0,5}(\.\d{0,2})?([eE][+-]?\d)?\s?\Z"),
    st.text(max_size=6),
)


@given(SIZE_FORMS)
def test_policy_reads_a_size_exactly_when_the_provider_does(value: object) -> None:
    assume(value != "")  # the provider reads an empty string as an absent input
    provider_reads = all(f.property != "vcpu" for f in provider_faults(vcpu=value))
    try:
        read = coerce_positive_int(value)
    except ValueError:
        policy_reads = False
    else:
        policy_reads = read <= MAX_VCPU
    assert policy_reads == provider_reads


@pytest.mark.parametrize(
    "value",
    [0, -1, "0", "-4096", 4096.5, "4096.5", "abc", "", " ", "4_096", "0x10", True, False,
     None, float("nan"), float("inf"), [4096], {"n": 1}, "1e400x"],
)  # fmt: skip
def test_non_sizes_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a positive integer"):
        coerce_positive_int(value)


@given(st.integers(max_value=0) | st.floats().filter(lambda f: not float(f).is_integer()))
def test_zero_negative_and_fractions_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        coerce_positive_int(value)


# ------------------------------------------------------------------ sizing rules

SIZE_RULES = [
    (memory_violation, "memory_mib", "maxMemoryMib", DEFAULT_MAX_MEMORY_MIB),
    (vcpu_violation, "vcpu", "maxVcpu", DEFAULT_MAX_VCPU),
    (disk_violation, "disk_size_gib", "maxDiskSizeGib", DEFAULT_MAX_DISK_SIZE_GIB),
]


@pytest.mark.parametrize(("rule", "prop", "key", "default"), SIZE_RULES)
def test_defaults_apply_without_config(rule: Any, prop: str, key: str, default: int) -> None:
    assert rule({"vm_name": "web", prop: default}, {}) is None
    message = rule({"vm_name": "web", prop: default + 1}, {})
    assert message is not None
    assert "'web'" in message and str(default + 1) in message and str(default) in message


@pytest.mark.parametrize(("rule", "prop", "key", "default"), SIZE_RULES)
@given(limit=st.integers(1, 10**6), value=st.integers(1, 2 * 10**6))
def test_violation_exactly_when_value_exceeds_limit(
    rule: Any, prop: str, key: str, default: int, limit: int, value: int
) -> None:
    config = {key: float(limit)}  # Configure delivers numbers as doubles
    for form in (value, float(value), str(value)):
        message = rule({"vm_name": "vm", prop: form}, config)
        assert (message is not None) == (value > limit)
        if message is not None:
            assert f"{prop} {value}" in message and f"limit of {limit}" in message


@pytest.mark.parametrize(("rule", "prop", "key", "default"), SIZE_RULES)
@pytest.mark.parametrize("bad", ["lots", -4, 0, 2.5, True])
def test_malformed_value_is_a_violation(
    rule: Any, prop: str, key: str, default: int, bad: object
) -> None:
    message = rule({"vm_name": "vm", prop: bad}, {})
    assert message is not None and "not a positive integer" in message and repr(bad) in message


@pytest.mark.parametrize(("rule", "prop", "key", "default"), SIZE_RULES[:2])
def test_missing_required_size_is_left_to_the_provider(
    rule: Any, prop: str, key: str, default: int
) -> None:
    assert rule({"vm_name": "vm"}, {}) is None
    assert rule({"vm_name": "vm", prop: None}, {}) is None


def test_vm_without_disk_size_is_judged_by_the_assumed_default() -> None:
    assert disk_violation({"vm_name": "vm"}, {}) is None
    assert disk_violation({"vm_name": "vm"}, {"maxDiskSizeGib": DEFAULT_DISK_SIZE_GIB}) is None
    message = disk_violation({"vm_name": "vm"}, {"maxDiskSizeGib": DEFAULT_DISK_SIZE_GIB - 1})
    assert message == (
        f"VM 'vm': disk_size_gib is not set, and the assumed default of "
        f"{DEFAULT_DISK_SIZE_GIB} GiB exceeds the limit of {DEFAULT_DISK_SIZE_GIB - 1} GiB"
    )
    assert disk_violation({"vm_name": "vm"}, {"defaultDiskSizeGib": 4096}) is not None
    assert (
        disk_violation({"vm_name": "vm", "disk_size_gib": 10}, {"defaultDiskSizeGib": 4096}) is None
    )


def test_messages_name_vm_value_and_limit() -> None:
    assert memory_violation({"vm_name": "db", "memory_mib": "70000"}, {}) == (
        "VM 'db': memory_mib 70000 MiB exceeds the limit of 65536 MiB"
    )
    assert vcpu_violation({"vm_name": "db", "vcpu": 33.0}, {}) == (
        "VM 'db': vcpu 33 exceeds the limit of 32"
    )


def test_malformed_config_fails_loudly() -> None:
    with pytest.raises(ValueError, match="maxVcpu"):
        vcpu_violation({"vcpu": 1}, {"maxVcpu": "many"})
    with pytest.raises(ValueError, match="maxMemoryMib"):
        memory_violation({"memory_mib": 1}, {"maxMemoryMib": 0})


def test_unknown_size_propagates_for_the_sdk_to_report() -> None:
    props = unknown_checking_proxy({"vm_name": "vm", "memory_mib": UNKNOWN_STRING})
    with pytest.raises(UnknownValueError):
        memory_violation(props, {})


def test_unknown_vm_name_does_not_hide_a_violation() -> None:
    props = unknown_checking_proxy({"vm_name": UNKNOWN_STRING, "vcpu": 64})
    message = vcpu_violation(props, {})
    assert message is not None and "vm_name unknown" in message and "64" in message
    assert (
        vcpu_violation(unknown_checking_proxy({"vm_name": UNKNOWN_STRING, "vcpu": 2}), {}) is None
    )


# ------------------------------------------------------------------ URIs and ownership


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("qemu:///system", "qemu:///system/"),
        ("qemu:///system", " QEMU:///system// "),
        ("qemu+ssh://root@Host.Example/system", "qemu+ssh://root@host.example/system/"),
    ],
)
def test_trivially_equal_uris_are_folded(a: str, b: str) -> None:
    assert normalize_uri(a) == normalize_uri(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("qemu:///system", "qemu:///session"),
        ("qemu+ssh://root@host/system", "qemu+ssh://admin@host/system"),
        ("qemu+ssh://Root@host/system", "qemu+ssh://root@host/system"),
        ("qemu+ssh://host/system", "qemu+ssh://host:2222/system"),
        ("qemu+ssh://host/system", "qemu+ssh://host/system?name=qemu:///session"),
        ("qemu:///system", "qemu+tcp:///system"),
    ],
)
def test_different_connections_stay_different(a: str, b: str) -> None:
    assert normalize_uri(a) != normalize_uri(b)


@given(
    st.text()
    | st.builds(
        "{}://{}/{}".format,
        st.sampled_from(["qemu", "QEMU+SSH", "test"]),
        st.text(alphabet="aZ@:[]%.-1", max_size=8),
        st.text(alphabet="sy/?=", max_size=8),
    )
)
def test_normalize_uri_is_idempotent_and_total(uri: str) -> None:
    once = normalize_uri(uri)
    assert normalize_uri(once) == once


def test_unparseable_uri_is_compared_as_written() -> None:
    assert normalize_uri(" qemu://[::1/system ") == "qemu://[::1/system"


def test_absent_or_blank_uri_means_the_default() -> None:
    assert domain_key({"vm_name": "a"}, DEFAULT_URI) == ("qemu:///system", "a")
    assert domain_key({"vm_name": "a", "uri": None}, DEFAULT_URI) == ("qemu:///system", "a")
    assert domain_key({"vm_name": "a", "uri": "  "}, "qemu:///session") == ("qemu:///session", "a")
    assert domain_key({"uri": "qemu:///system"}, DEFAULT_URI) is None


def _claims(*specs: tuple[str, dict[str, Any]]) -> list[DomainClaim]:
    return [DomainClaim(urn, props) for urn, props in specs]


def test_duplicate_pair_reports_every_member_naming_the_others() -> None:
    claims = _claims(
        ("urn:a", {"vm_name": "web"}),
        ("urn:b", {"vm_name": "web", "uri": "qemu:///system/"}),
        ("urn:c", {"vm_name": "web", "uri": "qemu:///session"}),
        ("urn:d", {"vm_name": "db"}),
    )
    violations = duplicate_domain_violations(claims, DEFAULT_URI)
    assert [urn for urn, _ in violations] == ["urn:a", "urn:b"]
    assert "urn:b" in violations[0][1] and "'web'" in violations[0][1]
    assert "qemu:///system" in violations[0][1]
    assert "urn:a" in violations[1][1]


def test_default_uri_decides_whether_absent_uri_collides() -> None:
    claims = _claims(("urn:a", {"vm_name": "w"}), ("urn:b", {"vm_name": "w", "uri": "qemu:///x"}))
    assert duplicate_domain_violations(claims, DEFAULT_URI) == []
    assert len(duplicate_domain_violations(claims, "qemu:///x")) == 2


def test_unknown_uri_or_name_is_skipped_not_fatal() -> None:
    claims = [
        DomainClaim("urn:a", unknown_checking_proxy({"vm_name": "w", "uri": UNKNOWN_STRING})),
        DomainClaim("urn:b", unknown_checking_proxy({"vm_name": UNKNOWN_STRING})),
        DomainClaim("urn:c", unknown_checking_proxy({"vm_name": "w"})),
        DomainClaim("urn:d", unknown_checking_proxy({"vm_name": "w", "vcpu": UNKNOWN_STRING})),
    ]
    assert [urn for urn, _ in duplicate_domain_violations(claims, DEFAULT_URI)] == [
        "urn:c",
        "urn:d",
    ]


names = st.sampled_from(["a", "b", "c"])
uris = st.sampled_from([None, "qemu:///system", "qemu:///system/", "qemu:///session"])


@given(st.lists(st.tuples(names, uris), max_size=8))
def test_reported_exactly_when_the_domain_is_shared(vms: list[tuple[str, str | None]]) -> None:
    claims = [
        DomainClaim(f"urn:{i}", {"vm_name": n} | ({"uri": u} if u is not None else {}))
        for i, (n, u) in enumerate(vms)
    ]
    keys = [(n, normalize_uri(u or DEFAULT_URI)) for n, u in vms]
    expected = {f"urn:{i}" for i, k in enumerate(keys) if keys.count(k) > 1}
    reported = [urn for urn, _ in duplicate_domain_violations(claims, DEFAULT_URI)]
    assert sorted(reported) == sorted(expected)


# ------------------------------------------------------------------ policy objects


def test_policies_follow_the_house_style() -> None:
    built = build_policies()
    assert [p.name for p in built] == [
        policies.MAX_MEMORY_POLICY,
        policies.MAX_VCPU_POLICY,
        policies.MAX_DISK_POLICY,
        policies.MAX_DATA_DISK_POLICY,
        policies.MAX_NICS_POLICY,
        policies.OPEN_DISPLAY_POLICY,
        policies.MAX_ATTACHED_DISK_POLICY,
        policies.UNIQUE_DOMAIN_POLICY,
        policies.MAX_SNAPSHOTS_POLICY,
        policies.MAX_HOST_DEVICES_POLICY,
        policies.MAX_HUGEPAGE_MEMORY_POLICY,
    ]
    for policy in built:
        assert policy.name == policy.name.lower() and " " not in policy.name
        assert policy.description.startswith(("Requires", "Prohibits"))
        assert policy.enforcement_level is None  # the pack's level applies
    assert [type(p) for p in built] == (
        [ResourceValidationPolicy] * 6
        + [StackValidationPolicy] * 3
        + [ResourceValidationPolicy] * 2
    )


def test_schema_defaults_match_code_defaults() -> None:
    schema = {
        key: spec.get("default")
        for policy in build_policies()
        if policy.config_schema is not None
        for key, spec in policy.config_schema.properties.items()
    }
    assert schema == {
        "maxMemoryMib": DEFAULT_MAX_MEMORY_MIB,
        "maxVcpu": DEFAULT_MAX_VCPU,
        "maxDiskSizeGib": DEFAULT_MAX_DISK_SIZE_GIB,
        "defaultDiskSizeGib": DEFAULT_DISK_SIZE_GIB,
        "maxSizeGib": policies.DEFAULT_MAX_DATA_DISK_SIZE_GIB,
        "maxNics": policies.DEFAULT_MAX_NICS,
        "maxAttachedDiskGib": policies.DEFAULT_MAX_ATTACHED_DISK_GIB,
        "maxSnapshotsPerVm": policies.DEFAULT_MAX_SNAPSHOTS_PER_VM,
        "maxHostDevices": policies.DEFAULT_MAX_HOST_DEVICES,
        "maxHugepageMemoryMib": policies.DEFAULT_MAX_HUGEPAGE_MEMORY_MIB,
        "defaultUri": None,  # unset so the stack's vigo:uri can apply
    }


def test_enforcement_level_can_be_forced() -> None:
    levels = {p.enforcement_level for p in build_policies(EnforcementLevel.ADVISORY)}
    assert levels == {EnforcementLevel.ADVISORY}
