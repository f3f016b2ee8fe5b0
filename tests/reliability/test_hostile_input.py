"""Bad and hostile input, through the provider's real gRPC ``Check``.

Each bad value must come back as a CheckFailure naming the input (never a crash, never a
traceback), before any host call. tests/unit/test_spec.py covers the pure validator; here
the same rules are driven through a real ``python -m pulumi.dynamic`` process, and hypothesis
fuzzes that path. One ``up`` proves nothing on the host is touched when Check fails.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.disks import qemu_img, sha256
from support.lab import Lab as RelLab

from pulumi_vigo_vm.testing import CheckFailedError, ProviderError
from pulumi_vigo_vm.vm.fields import INPUTS
from pulumi_vigo_vm.vm.inputs import MAX_USER_DATA_BYTES

from .rellab import CheckRpc

pytestmark = pytest.mark.libvirt

GOOD: dict[str, Any] = {
    "vm_name": "rel-ok",
    "memory_mib": 64,
    "vcpu": 1,
    "disk_path": "/var/tmp/base.qcow2",
    # What VigoVm computes at declaration; these tests speak the provider's protocol directly.
    "claim": "organization/urn:pulumi:dev::rel::pulumi-python:dynamic/vigo:VigoVm::rel-ok",
}
STRING_INPUTS = (
    "vm_name",
    "disk_path",
    "artifact",
    "state",
    "network_bridge",
    "uri",
    "domain_type",
    "images_dir",
)
ALL_INPUTS = tuple(f.name for f in INPUTS)


def _failures(check_rpc: CheckRpc, **change: Any) -> dict[str, str]:
    news = {**GOOD, **change}
    if "artifact" in change:
        news.pop("disk_path")
    _inputs, failures = check_rpc.check({k: v for k, v in news.items() if v is not None})
    return {f.property: f.reason for f in failures}


def test_a_good_vm_passes_check(check_rpc: CheckRpc) -> None:
    assert _failures(check_rpc) == {}


@pytest.mark.parametrize("name", STRING_INPUTS)
@pytest.mark.parametrize(
    "evil",
    ["<x/>", "a&b", 'a"b', "a'b", "]]>", "a\x00b", "a\nb", "a\x1bb", "a\x7fb", "a\tb"],
)
def test_xml_metacharacters_and_control_characters_in_every_string_input(
    check_rpc: CheckRpc, name: str, evil: str
) -> None:
    value = {
        "disk_path": f"/var/tmp/{evil}.qcow2",
        "images_dir": f"/var/tmp/{evil}",
        "uri": f"qemu:///system?x={evil}",
        "artifact": f"name{evil}:1",
    }.get(name, evil)
    assert name in _failures(check_rpc, **{name: value}), (name, value)


def test_control_characters_in_user_data_are_its_own_business(check_rpc: CheckRpc) -> None:
    """user-data is a document for cloud-init, never XML or a path: it is carried as bytes
    into the seed ISO, so metacharacters there are fine."""
    assert _failures(check_rpc, cloud_init_user_data="#!/bin/sh\necho '<&>\"'\t\n") == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("vm_name", "../etc/passwd"),
        ("vm_name", ".."),
        ("vm_name", "a/b"),
        ("vm_name", "/abs"),
        ("vm_name", "."),
        ("images_dir", "/var/lib/libvirt/images/../../../etc"),
        ("images_dir", "relative/images"),
        ("images_dir", "../images"),
        ("disk_path", "/var/lib/../../etc/shadow"),
    ],
)
def test_path_traversal_in_names_and_directories(
    check_rpc: CheckRpc, name: str, value: str
) -> None:
    assert name in _failures(check_rpc, **{name: value})


@pytest.mark.parametrize(
    "bridge", ["br 0", "br0/evil", "br:0", "a" * 16, "", "..", "-br", "br0;reboot", "bř0"]
)
def test_a_bridge_that_is_not_an_interface_name(check_rpc: CheckRpc, bridge: str) -> None:
    failures = _failures(check_rpc, network_bridge=bridge)
    if bridge == "":  # empty is "omitted": no NIC
        assert failures == {}
    else:
        assert "network_bridge" in failures


@pytest.mark.parametrize("name", ["memory_mib", "vcpu", "disk_size_gib", "shutdown_timeout_s"])
@pytest.mark.parametrize(
    "value", [-1, 0, 10**30, 1.5, "lots", "1e3", "0x10", [], {}, True, "-5", float("inf")]
)
def test_negative_zero_huge_fractional_and_non_numeric_sizes(
    check_rpc: CheckRpc, name: str, value: Any
) -> None:
    failures = _failures(check_rpc, **{name: value})
    if name == "shutdown_timeout_s" and value == 0:
        assert failures == {}  # zero: power off at once, a valid choice
    else:
        assert name in failures, (name, value)


@pytest.mark.parametrize(
    "change",
    [
        {"artifact": "ubuntu:1", "disk_path": "/var/tmp/base.qcow2"},
        {"disk_path": None},
        {"disk_path": ""},
    ],
)
def test_both_or_neither_of_disk_path_and_artifact(
    check_rpc: CheckRpc, change: dict[str, Any]
) -> None:
    news = {**GOOD, **change}
    _inputs, failures = check_rpc.check({k: v for k, v in news.items() if v is not None})
    assert {f.property for f in failures} & {"disk_path", "artifact"}


def test_user_data_larger_than_a_seed_may_hold(check_rpc: CheckRpc) -> None:
    at_limit = "#" * MAX_USER_DATA_BYTES
    assert _failures(check_rpc, cloud_init_user_data=at_limit) == {}
    failures = _failures(check_rpc, cloud_init_user_data=at_limit + "#")
    assert "cloud_init_user_data" in failures
    assert "#####" not in failures["cloud_init_user_data"], "the reason echoes user-data"


@pytest.mark.parametrize(
    "uri",
    [
        "http://evil/system",
        "qemu://host/system",
        "qemu+ssh:///system",
        "qemu+ssh://root@/system",
        "qemu+ssh://root@host:99999/system",
        "qemu+ssh://root@host:port/system",
        "qemu+ssh://ro ot@host/system",
        "qemu+ssh://host/etc/passwd",
        "qemu+ssh://host/system?keyfile=<x>",
        "qemu:///system\n",
        "qemu+ssh://-oProxyCommand=sh/system",
        "qemu+ssh://@host/system",
        "",
    ],
)
def test_malformed_uris(check_rpc: CheckRpc, uri: str) -> None:
    failures = _failures(check_rpc, uri=uri)
    if uri == "":  # empty is "omitted": the configured default
        assert failures == {}
    else:
        assert "uri" in failures, uri


# --------------------------------------------------------------------------- fuzz

_texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    _texts,
    st.sampled_from(["..", "/", "qemu:///system", "running", "br0", "a:b", "<", "\x00"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(string.ascii_letters, max_size=5), st.integers(), max_size=3),
)
_bags = st.dictionaries(
    st.one_of(st.sampled_from(ALL_INPUTS), st.text(string.ascii_letters + "_", max_size=12)),
    _values,
    max_size=len(ALL_INPUTS) + 2,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bag=_bags)
def test_fuzzed_inputs_never_crash_the_provider_check(
    check_rpc: CheckRpc, bag: dict[str, Any]
) -> None:
    try:
        _inputs, failures = check_rpc.check(bag)
    except ProviderError as exc:  # a traceback from the provider: the bug this hunts
        pytest.fail(f"Check crashed on {bag!r}: {exc}")
    for failure in failures:
        assert failure.property in ALL_INPUTS, failure
        assert "Traceback" not in failure.reason
    assert check_rpc.alive()


# --------------------------------------------------------------------------- nothing touched


def test_bad_input_fails_check_before_any_host_call(rlab: RelLab) -> None:
    """Check refuses every hostile value at once, and nothing reaches the host: the one run
    of this scenario through the engine (each value's own rule is tests/unit/test_spec.py's,
    e.g. test_every_bad_input_gets_exactly_one_fault_all_reported_together)."""
    rlab.vm(
        "bad",
        vm_name="../../etc/x",
        network_bridge="br0</source><source bridge='evil'/>",
        images_dir="/etc/../etc",
        memory_mib=-1,
        vcpu=0,
        disk_size_gib="0x10",
        state="paused",
        artifact="x:1",
        uri="qemu+ssh://-oProxyCommand=touch${IFS}/tmp/pwned/system",
    )
    with pytest.raises(CheckFailedError) as caught:
        rlab.up()
    faulty = {f.property for f in caught.value.failures}
    assert faulty >= {
        "vm_name",
        "network_bridge",
        "images_dir",
        "memory_mib",
        "vcpu",
        "disk_size_gib",
        "state",
        "artifact",
        "uri",
    }
    assert not rlab.images_dir.exists()
    assert rlab.domains() == set()
    assert rlab.harness().snapshot().program_resources() == []


@pytest.mark.parametrize("kind", ["overlay", "data-file"])
def test_a_chained_base_is_a_provider_error_at_create_and_nothing_is_touched(
    rlab: RelLab, kind: str
) -> None:
    """Beyond tests/integration/test_safety: the base and its data file are byte-identical
    afterwards, and the same VM on a good base then converges."""
    chained = rlab.root / "chained.qcow2"
    data = rlab.root / "data.raw"
    if kind == "overlay":
        opts = ["-F", "qcow2", "-b", str(rlab.base("parent.qcow2"))]
    else:
        opts = ["-o", f"data_file={data}"]
    qemu_img("create", "-q", "-f", "qcow2", *opts, str(chained), "64M")
    touched = [p for p in (chained, data, rlab.root / "parent.qcow2") if p.exists()]
    before = {p: (sha256(p), p.stat().st_mtime_ns) for p in touched}

    rlab.vm("a", disk_path=str(chained), state="defined")
    with pytest.raises(ProviderError, match=r"disk_path: base image .*chained.qcow2"):
        rlab.up()

    assert {p: (sha256(p), p.stat().st_mtime_ns) for p in touched} == before
    rlab.assert_clean()
    rlab.vm("a", state="defined")
    rlab.up()
    rlab.assert_converged()
