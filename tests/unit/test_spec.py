"""check_inputs / parse_spec: every input rule, defaults, unknowns and derived paths."""

from __future__ import annotations

import hashlib
import math
import string
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.output import Unknown

from pulumi_vigo_vm.errors import InputError, InputFault
from pulumi_vigo_vm.spec import DEFAULT_DOMAIN_TYPE, DEFAULT_IMAGES_DIR, ProviderDefaults
from pulumi_vigo_vm.vm.fields import INPUTS
from pulumi_vigo_vm.vm.inputs import MAX_DISK_SIZE_GIB, MAX_MEMORY_MIB, MAX_VCPU
from pulumi_vigo_vm.vm.spec import (
    DEFAULT_URI,
    BaseSource,
    RunState,
    VmSpec,
    check_inputs,
    parse_spec,
    same_inputs,
)

from ._values import BASE_PATH, CLAIM, VALID_PROPS

DEFAULTS = ProviderDefaults()
NAME_CHARS = string.ascii_letters + string.digits + "._-"
VALID_NAME = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")


def faults_for(**props: Any) -> list[InputFault]:
    return check_inputs({**VALID_PROPS, **props}, DEFAULTS)[1]


def fault_names(**props: Any) -> list[str]:
    return [fault.property for fault in faults_for(**props)]


def normalised(**props: Any) -> dict[str, Any]:
    values, faults = check_inputs({**VALID_PROPS, **props}, DEFAULTS)
    assert faults == []
    return values


def spec_of(**props: Any) -> VmSpec:
    return parse_spec({**VALID_PROPS, **props}, DEFAULTS)


def test_minimal_valid_inputs_give_a_spec_with_every_default() -> None:
    assert spec_of() == VmSpec(
        vm_name="web01",
        memory_mib=4096,
        vcpu=4,
        base=BaseSource("file", BASE_PATH),
        state=RunState.RUNNING,
        uri=DEFAULT_URI,
        domain_type=DEFAULT_DOMAIN_TYPE,
        images_dir=DEFAULT_IMAGES_DIR,
        shutdown_timeout_s=120,
        claim=CLAIM,
        cpu_mode="host-passthrough",  # the default under kvm
        autostart=True,  # the default of a VM to run
    )


# --- one parse for a no-op diff's two bags ---


def test_same_inputs_holds_for_outputs_carrying_the_inputs_and_more() -> None:
    """A no-op diff parses its new inputs once: the recorded outputs hold the same inputs
    plus outputs parse_spec never reads (and an omitted input as None or "")."""
    outputs = {**VALID_PROPS, "uuid": "u", "overlay_path": "/x", "network": ""}
    assert same_inputs(outputs, VALID_PROPS)
    assert parse_spec(outputs, DEFAULTS) == parse_spec(VALID_PROPS, DEFAULTS)


EMPTY_LIST_FIELDS = [
    f.name
    for f in INPUTS
    if f.annotation.startswith("list")
    and f.default is None
    and parse_spec(VALID_PROPS, DEFAULTS).to_inputs().get(f.name) == []
]
"""The list inputs the outputs record as [] when left out (``boot_order`` records None)."""


@pytest.mark.parametrize("name", EMPTY_LIST_FIELDS)
def test_an_empty_list_parses_as_the_omitted_input(name: str) -> None:
    """The rule same_inputs relies on: outputs record [] for a list input left out."""
    assert same_inputs({**VALID_PROPS, name: []}, VALID_PROPS)
    assert parse_spec({**VALID_PROPS, name: []}, DEFAULTS) == parse_spec(VALID_PROPS, DEFAULTS)


CONSTANT_DEFAULT_FIELDS = [
    f.name
    for f in INPUTS
    if f.default is None
    and f.name not in VALID_PROPS
    and parse_spec(VALID_PROPS, DEFAULTS).to_inputs().get(f.name) not in (None, "", [])
    and parse_spec(VALID_PROPS, DEFAULTS).to_inputs()[f.name] == getattr(VmSpec, f.name, None)
]
"""The inputs with no default of their own that the outputs record as the VmSpec's
constant default when left out (``hugepages``: False)."""


def test_some_inputs_are_recorded_as_their_constant_default() -> None:
    assert "hugepages" in CONSTANT_DEFAULT_FIELDS


@pytest.mark.parametrize("name", CONSTANT_DEFAULT_FIELDS)
def test_a_recorded_constant_default_parses_as_the_omitted_input(name: str) -> None:
    """A no-op diff of a VM that leaves such an input out parses once."""
    recorded = parse_spec(VALID_PROPS, DEFAULTS).to_inputs()[name]
    assert same_inputs({**VALID_PROPS, name: recorded}, VALID_PROPS)
    assert parse_spec({**VALID_PROPS, name: recorded}, DEFAULTS) == parse_spec(
        VALID_PROPS, DEFAULTS
    )


def test_an_input_derived_from_others_recorded_is_not_taken_for_omitted() -> None:
    """autostart left out follows state: the value recorded under one state is no omission
    under another, so the recorded bag is parsed on its own."""
    recorded = parse_spec({**VALID_PROPS, "state": "running"}, DEFAULTS).to_inputs()
    assert not same_inputs(recorded, {**VALID_PROPS, "state": "defined"})
    assert not same_inputs({**VALID_PROPS, "autostart": True}, VALID_PROPS)


@pytest.mark.parametrize(
    ("name", "recorded", "new"),
    [("memory_mib", 2048, 4096), ("memory_mib", 4096.0, 4096), ("vcpu", True, 1)],
    ids=["other-value", "float-for-int", "bool-for-int"],
)
def test_same_inputs_tells_another_value_or_type_apart(name: str, recorded: Any, new: Any) -> None:
    """1 == 1.0 == True in Python, not to a validator: the recorded bag is parsed then."""
    assert not same_inputs({**VALID_PROPS, name: recorded}, {**VALID_PROPS, name: new})


# --- autostart ---


@pytest.mark.parametrize(
    ("state", "expected"), [("running", True), ("stopped", False), ("defined", False)]
)
def test_autostart_defaults_to_whether_the_vm_is_to_run(state: str, expected: bool) -> None:
    assert normalised(state=state)["autostart"] is expected
    assert spec_of(state=state).autostarts is expected


def test_autostart_recorded_by_the_previous_release_is_derived_from_its_state() -> None:
    """Outputs written before autostart existed read as the default: no input change."""
    assert spec_of(state="running", autostart=None).autostart is True


@pytest.mark.parametrize("state", ["running", "defined"])
def test_autostart_given_is_kept(state: str) -> None:
    assert spec_of(state=state, autostart=False).autostarts is False
    assert spec_of(state="defined", autostart="true").autostarts is True


def test_autostart_with_state_stopped_is_refused_naming_the_fix() -> None:
    faults = faults_for(state="stopped", autostart=True)
    assert [f.property for f in faults] == ["autostart"]
    assert "state='running'" in faults[0].reason


# --- claim ---


def test_claim_missing_from_new_inputs_is_a_fault_naming_it() -> None:
    props = {k: v for k, v in VALID_PROPS.items() if k != "claim"}
    faults = check_inputs(props, DEFAULTS)[1]
    assert [f.property for f in faults] == ["claim"]
    assert "VigoVm" in faults[0].reason


@pytest.mark.parametrize("missing", [None, ""], ids=["None", "empty"])
def test_claim_none_or_empty_is_a_fault_naming_it(missing: Any) -> None:
    assert fault_names(claim=missing) == ["claim"]


def test_recorded_outputs_without_claim_parse_with_claim_none() -> None:
    """State written by the previous release carries no claim: parse_spec must read it."""
    props = {k: v for k, v in VALID_PROPS.items() if k != "claim"}
    spec = parse_spec(props, DEFAULTS)
    assert spec.claim is None
    assert spec == replace(spec_of(), claim=None)


def test_claim_is_kept_verbatim_and_round_trips() -> None:
    spec = spec_of()
    assert spec.claim == CLAIM
    assert spec.to_inputs()["claim"] == CLAIM
    assert parse_spec(spec.to_inputs(), DEFAULTS) == spec


@pytest.mark.parametrize(
    "bad",
    ["organization/web01", "web01", "x" * 2100 + "urn:pulumi:", 42, ["urn:pulumi:a"]],
    ids=["no-urn", "bare-name", "too-long", "int", "list"],
)
def test_claim_that_is_not_an_organization_and_urn_is_refused(bad: Any) -> None:
    assert fault_names(claim=bad) == ["claim"]


# --- vm_name ---


@given(VALID_NAME)
def test_vm_name_matching_the_pattern_is_accepted(name: str) -> None:
    assert normalised(vm_name=name)["vm_name"] == name


@given(
    VALID_NAME,
    st.characters(exclude_characters=NAME_CHARS, exclude_categories=["Cs"]),
    st.data(),
)
def test_vm_name_with_a_character_outside_the_pattern_is_refused(
    name: str, bad: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(name)))
    assert "vm_name" in fault_names(vm_name=name[:position] + bad + name[position:])


@given(st.text(NAME_CHARS, min_size=64, max_size=200).map(lambda s: "a" + s))
def test_vm_name_longer_than_63_characters_is_refused(name: str) -> None:
    assert "vm_name" in fault_names(vm_name=name)


@given(st.sampled_from("._-"), st.text(NAME_CHARS, max_size=62))
def test_vm_name_starting_with_punctuation_is_refused(first: str, rest: str) -> None:
    assert "vm_name" in fault_names(vm_name=first + rest)


@pytest.mark.parametrize("name", [5, 5.0, True, ["web01"], {"n": "web01"}])
def test_vm_name_that_is_not_a_string_is_refused(name: Any) -> None:
    assert "vm_name" in fault_names(vm_name=name)


# --- positive integers ---

INTEGER_INPUTS = [
    ("memory_mib", MAX_MEMORY_MIB),
    ("vcpu", MAX_VCPU),
    ("disk_size_gib", MAX_DISK_SIZE_GIB),
]


@pytest.mark.parametrize("name", [name for name, _ in INTEGER_INPUTS])
@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        (256, 256),
        (256.0, 256),  # the engine sends every number as a float
        ("4096", 4096),
        ("4096.0", 4096),
        (" 12 ", 12),
        (1, 1),
    ],
)
def test_positive_integer_forms_are_accepted_as_int(
    name: str, given_value: Any, expected: int
) -> None:
    value = normalised(**{name: given_value})[name]
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(("name", "maximum"), INTEGER_INPUTS)
def test_integer_at_the_maximum_is_accepted(name: str, maximum: int) -> None:
    assert normalised(**{name: maximum})[name] == maximum
    assert normalised(**{name: float(maximum)})[name] == maximum


@pytest.mark.parametrize(("name", "maximum"), INTEGER_INPUTS)
@pytest.mark.parametrize(
    "bad",
    [
        0,
        0.0,
        "0",
        -1,
        -4096.0,
        "-4",
        1.5,
        "1.5",
        "4096.5",
        "four",
        "12abc",
        "0x10",
        True,
        False,
        math.nan,
        math.inf,
        -math.inf,
        "nan",
        "inf",
        [4],
        {"v": 4},
        10**30,
        1e300,
        "9" * 40,
    ],
    ids=repr,
)
def test_integer_input_refuses_non_positive_fractional_non_numeric_bool_huge_and_nan(
    name: str, maximum: int, bad: Any
) -> None:
    assert fault_names(**{name: bad}) == [name]


@pytest.mark.parametrize(("name", "maximum"), INTEGER_INPUTS)
def test_integer_just_above_the_maximum_is_refused(name: str, maximum: int) -> None:
    assert fault_names(**{name: maximum + 1}) == [name]
    assert fault_names(**{name: str(maximum + 1)}) == [name]


@pytest.mark.parametrize("name", ["vm_name", "memory_mib", "vcpu"])
@pytest.mark.parametrize("missing", [None, ""], ids=["None", "empty"])
def test_required_input_missing_is_a_fault_naming_it(name: str, missing: Any) -> None:
    assert fault_names(**{name: missing}) == [name]


# --- base disk: disk_path / artifact ---


@pytest.mark.parametrize(
    ("given_path", "kind", "value"),
    [
        (BASE_PATH, "file", BASE_PATH),
        ("/srv/images/base.img", "file", "/srv/images/base.img"),
        ("/srv/./images//base.img", "file", "/srv/images/base.img"),
        ("default:base.qcow2", "pool", "default:base.qcow2"),
        ("my_pool:ubuntu-22.04+1.qcow2", "pool", "my_pool:ubuntu-22.04+1.qcow2"),
    ],
)
def test_disk_path_absolute_file_or_pool_volume_is_accepted(
    given_path: str, kind: str, value: str
) -> None:
    assert spec_of(disk_path=given_path).base == BaseSource(kind, value)


@pytest.mark.parametrize(
    "bad",
    [
        "base.img",
        "images/base.img",
        "./base.img",
        "../base.img",
        "/var/lib/../base.img",
        "/var/lib/images/..",
        "pool:",
        ":volume",
        "pool:../volume",
        "pool:dir/volume",
        "po/ol:volume",
        "~/base.img",
        42,
    ],
)
def test_disk_path_relative_dotdot_or_malformed_pool_volume_is_refused(bad: Any) -> None:
    assert fault_names(disk_path=bad) == ["disk_path"]


@pytest.mark.parametrize(
    "reference",
    [
        "ubuntu-22.04-cloud:1.4",
        "ubuntu-22.04-cloud@1.4",
        "alexander4/ubuntu-22.04-cloud:1.4",
        "e3810a25/ubuntu-22.04-cloud@1.4",
    ],
)
def test_artifact_in_each_reference_form_is_accepted(reference: str) -> None:
    props = {k: v for k, v in VALID_PROPS.items() if k != "disk_path"}
    spec = parse_spec({**props, "artifact": reference}, DEFAULTS)
    assert spec.base == BaseSource("artifact", reference)


@pytest.mark.parametrize(
    "bad", ["Ubuntu:1.4", "ubuntu", "registry.example/ubuntu:1", "ubuntu:", "x@1:2", 7]
)
def test_malformed_artifact_is_refused(bad: Any) -> None:
    props = {k: v for k, v in VALID_PROPS.items() if k != "disk_path"}
    assert [f.property for f in check_inputs({**props, "artifact": bad}, DEFAULTS)[1]] == [
        "artifact"
    ]


@pytest.mark.parametrize(
    ("disk_path", "images_dir", "vm_name"),
    [
        ("/var/lib/libvirt/images/web01.qcow2", None, "web01"),
        ("/var/lib/libvirt/images//web01.qcow2", None, "web01"),
        ("/srv/vms/db.qcow2", "/srv/vms/", "db"),
        ("/srv/./vms/db.qcow2", "/srv/vms", "db"),
    ],
)
def test_disk_path_at_the_vms_own_overlay_path_is_refused(
    disk_path: str, images_dir: str | None, vm_name: str
) -> None:
    props: dict[str, Any] = {"disk_path": disk_path, "vm_name": vm_name}
    if images_dir is not None:
        props["images_dir"] = images_dir
    faults = faults_for(**props)
    assert [f.property for f in faults] == ["disk_path"]
    assert "overlay" in faults[0].reason
    with pytest.raises(InputError):
        spec_of(**props)


@pytest.mark.parametrize(
    "disk_path",
    [
        "/var/lib/libvirt/images/web02.qcow2",
        "/var/lib/libvirt/images/web01.qcow2.orig",
        "/srv/web01.qcow2",
        "default:web01.qcow2",
    ],
)
def test_disk_path_beside_but_not_at_the_overlay_path_is_accepted(disk_path: str) -> None:
    assert faults_for(disk_path=disk_path) == []


def test_both_disk_path_and_artifact_is_one_fault() -> None:
    faults = faults_for(artifact="ubuntu:1.4")
    assert len(faults) == 1
    assert faults[0].property in ("disk_path", "artifact")


@pytest.mark.parametrize("artifact", ["Ubuntu:1.4", "ubuntu", 7])
def test_invalid_artifact_next_to_disk_path_gets_one_fault_per_input(artifact: Any) -> None:
    names = fault_names(artifact=artifact)
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("absent", [None, ""], ids=["None", "empty"])
def test_neither_disk_path_nor_artifact_is_one_fault(absent: Any) -> None:
    faults = faults_for(disk_path=absent)
    assert len(faults) == 1
    assert faults[0].property in ("disk_path", "artifact")


# --- state, bridge, uri, domain_type, images_dir ---


@pytest.mark.parametrize("state", list(RunState))
def test_each_run_state_is_accepted(state: RunState) -> None:
    assert spec_of(state=state.value).state is state


def test_state_defaults_to_running() -> None:
    assert spec_of().state is RunState.RUNNING


@pytest.mark.parametrize("bad", ["Running", "paused", "started", "on", 1, True])
def test_state_outside_the_enum_is_refused(bad: Any) -> None:
    assert fault_names(state=bad) == ["state"]


@pytest.mark.parametrize("bridge", ["br0", "virbr0", "br-lan", "br_ext.100", "eth0", "b", "a" * 15])
def test_linux_interface_name_is_accepted_as_bridge(bridge: str) -> None:
    assert spec_of(network_bridge=bridge).network_bridge == bridge


def test_bridge_omitted_means_no_nic() -> None:
    assert spec_of().network_bridge is None


@pytest.mark.parametrize("bad", ["a" * 16, "br 0", "br/0", "br:0", "br\t0", ".", "..", "br0\n", 0])
def test_bridge_breaking_linux_interface_rules_is_refused(bad: Any) -> None:
    assert fault_names(network_bridge=bad) == ["network_bridge"]


@pytest.mark.parametrize(
    "uri",
    [
        "qemu:///system",
        "qemu:///session",
        "qemu+ssh://root@hv1.example/system",
        "qemu+ssh://hv1/system",
        "qemu+ssh://host:2222/system?keyfile=/k",
        "qemu+ssh://root@10.0.0.5:22/system?keyfile=/root/.ssh/id_ed25519",
        "qemu+ssh://hv1/system?proxy=netcat&socket=/run/libvirt/libvirt-sock",
        "qemu+ssh://hv1/system?proxy=native",
    ],
)
def test_supported_libvirt_uri_is_accepted_verbatim(uri: str) -> None:
    assert spec_of(uri=uri).uri == uri


@pytest.mark.parametrize(
    "bad",
    [
        "http://hv1/system",
        "https://hv1/system",
        "qemu+ssh:///system",
        "qemu+ssh://root@/system",
        "qemu://hv1/system",
        "qemu:///",
        "qemu:///bogus",
        "qemu+ssh://hv1/",
        "qemu+ssh://h v1/system",
        "qemu+ssh://hv1:abc/system",
        "qemu+ssh://hv1:99999/system",
        "qemu+ssh://hv1/system?proxy=telnet",
        "garbage",
        "qemu",
        "/system",
        42,
    ],
)
def test_unsupported_or_malformed_uri_is_refused(bad: Any) -> None:
    assert fault_names(uri=bad) == ["uri"]


@pytest.mark.parametrize(
    "uri",
    [
        "qemu+ssh://root:hunter2secret@hv1/system",
        "qemu+ssh://root:hunter2secret@hv1:22/system?keyfile=/k",
        "qemu+ssh://:hunter2secret@hv1/system",
        "http://root:hunter2secret@hv1/system",
        "qemu+ssh://root:hunter2secret@/system",
    ],
)
def test_uri_with_a_password_is_refused_without_echoing_the_password(uri: str) -> None:
    faults = faults_for(uri=uri)
    assert [f.property for f in faults] == ["uri"]
    assert "password" in faults[0].reason
    assert "hunter2" not in faults[0].reason
    with pytest.raises(InputError) as caught:
        spec_of(uri=uri)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("domain_type", ["kvm", "qemu"])
def test_domain_type_kvm_or_qemu_is_accepted(domain_type: str) -> None:
    assert spec_of(domain_type=domain_type).domain_type == domain_type


@pytest.mark.parametrize("bad", ["KVM", "xen", "lxc", "hvf", 1])
def test_other_domain_type_is_refused(bad: Any) -> None:
    assert fault_names(domain_type=bad) == ["domain_type"]


@pytest.mark.parametrize(
    ("given_dir", "expected"),
    [
        ("/srv/vms", "/srv/vms"),
        ("/srv/vms/", "/srv/vms"),
        ("/srv/./vms", "/srv/vms"),
        ("/srv//vms", "/srv/vms"),
        ("//srv/vms", "/srv/vms"),
        ("///srv/vms", "/srv/vms"),
    ],
)
def test_images_dir_is_normalised(given_dir: str, expected: str) -> None:
    assert spec_of(images_dir=given_dir).images_dir == expected


@pytest.mark.parametrize("bad", ["srv/vms", "./vms", "/srv/../etc", "/srv/vms/..", 3])
def test_images_dir_relative_or_with_dotdot_is_refused(bad: Any) -> None:
    assert fault_names(images_dir=bad) == ["images_dir"]


# --- control characters and XML metacharacters ---

# Each string input, as a valid value with a slot where a hostile character goes.
STRING_INPUT_TEMPLATES = {
    "vm_name": "web{}01",
    "disk_path": "/srv/images/ba{}se.img",
    "artifact": "ubuntu{}:1.4",
    "state": "running{}",
    "network_bridge": "br{}0",
    "uri": "qemu+ssh://root@hv{}1/system",
    "domain_type": "kvm{}",
    "images_dir": "/srv/v{}ms",
}
HOSTILE = ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "<", ">", "&", '"', "'"]
NOT_XML = ["\ufffe", "\uffff", "\ud800", "\udfff"]


@pytest.mark.parametrize("char", HOSTILE + NOT_XML, ids=repr)
@pytest.mark.parametrize("name", list(STRING_INPUT_TEMPLATES))
def test_control_or_xml_metacharacter_in_a_string_input_is_a_fault_naming_it(
    name: str, char: str
) -> None:
    props = {**VALID_PROPS, name: STRING_INPUT_TEMPLATES[name].format(char)}
    if name == "artifact":
        del props["disk_path"]
    assert name in [f.property for f in check_inputs(props, DEFAULTS)[1]]


@pytest.mark.parametrize("char", ["\x00", "\n", "\x7f", *NOT_XML], ids=repr)
def test_control_or_non_xml_character_in_the_claim_is_a_fault_naming_it(char: str) -> None:
    assert fault_names(claim=CLAIM[:20] + char + CLAIM[20:]) == ["claim"]


def test_non_xml_character_fault_says_which_characters() -> None:
    (fault,) = faults_for(vm_name="web\ufffe01")
    assert "U+FFFE" in fault.reason


def test_user_data_with_control_and_xml_characters_is_kept_verbatim() -> None:
    user_data = "#cloud-config\r\nruncmd: ['echo <a>&\"b\"']\x00\x1b\x7f\tünïcødé ✓\n"
    assert normalised(cloud_init_user_data=user_data)["cloud_init_user_data"] == user_data
    assert spec_of(cloud_init_user_data=user_data).cloud_init_user_data == user_data


@pytest.mark.parametrize("bad", [42, b"#cloud-config", ["a"]], ids=repr)
def test_user_data_that_is_not_a_string_is_refused(bad: Any) -> None:
    assert fault_names(cloud_init_user_data=bad) == ["cloud_init_user_data"]


# --- all faults at once ---


def test_every_bad_input_gets_exactly_one_fault_all_reported_together() -> None:
    bad = {
        "vm_name": "-web",
        "memory_mib": 0,
        "vcpu": 1.5,
        "disk_path": "relative.img",
        "state": "paused",
        "disk_size_gib": "lots",
        "network_bridge": "bridge-name-too-long",
        "uri": "http://hv1/system",
        "domain_type": "xen",
        "images_dir": "vms",
        "shutdown_timeout_s": -1,
        "claim": "web01",
    }
    names = [fault.property for fault in check_inputs(bad, DEFAULTS)[1]]
    assert sorted(names) == sorted(bad)
    with pytest.raises(InputError) as caught:
        parse_spec(bad, DEFAULTS)
    assert sorted(f.property for f in caught.value.faults) == sorted(bad)


def test_input_error_message_names_every_input() -> None:
    with pytest.raises(InputError) as caught:
        parse_spec({"vm_name": "-x", "memory_mib": 0, "vcpu": 1, "disk_path": "/b"}, DEFAULTS)
    assert "vm_name" in str(caught.value)
    assert "memory_mib" in str(caught.value)


# --- defaults ---

CUSTOM = ProviderDefaults(
    uri="qemu+ssh://root@hv9/system", domain_type="qemu", images_dir="/srv/vms"
)


def test_provider_defaults_fill_omitted_uri_domain_type_and_images_dir() -> None:
    spec = parse_spec(VALID_PROPS, CUSTOM)
    assert (spec.uri, spec.domain_type, spec.images_dir) == (
        "qemu+ssh://root@hv9/system",
        "qemu",
        "/srv/vms",
    )
    assert check_inputs(VALID_PROPS, CUSTOM)[0]["uri"] == "qemu+ssh://root@hv9/system"


def test_explicit_inputs_win_over_provider_defaults() -> None:
    props = {**VALID_PROPS, "uri": "qemu:///system", "domain_type": "kvm", "images_dir": "/a"}
    spec = parse_spec(props, CUSTOM)
    assert (spec.uri, spec.domain_type, spec.images_dir) == ("qemu:///system", "kvm", "/a")


def test_provider_defaults_from_config_uses_the_documented_keys() -> None:
    config = {"uri": "qemu+ssh://hv2/system", "domainType": "qemu", "imagesDir": "/vms"}
    defaults = ProviderDefaults.from_config(config.get)
    assert (defaults.uri, defaults.domain_type, defaults.images_dir) == (
        "qemu+ssh://hv2/system",
        "qemu",
        "/vms",
    )
    assert ProviderDefaults.from_config(lambda key: None) == ProviderDefaults()


# --- unknown (preview) values ---

ALL_INPUTS = [
    "vm_name",
    "memory_mib",
    "vcpu",
    "disk_path",
    "state",
    "disk_size_gib",
    "network_bridge",
    "cloud_init_user_data",
    "uri",
    "domain_type",
    "images_dir",
    "shutdown_timeout_s",
    "claim",
]


@pytest.mark.parametrize("name", ALL_INPUTS)
def test_unknown_value_passes_check_inputs_unjudged(name: str) -> None:
    unknown = Unknown()
    values, faults = check_inputs({**VALID_PROPS, name: unknown}, DEFAULTS)
    assert faults == []
    assert values[name] is unknown


def test_unknown_artifact_passes_check_inputs_without_a_base_fault() -> None:
    unknown = Unknown()
    props = {k: v for k, v in VALID_PROPS.items() if k != "disk_path"}
    values, faults = check_inputs({**props, "artifact": unknown}, DEFAULTS)
    assert faults == []
    assert values["artifact"] is unknown


@pytest.mark.parametrize("name", ALL_INPUTS)
def test_parse_spec_refuses_an_unknown_value_naming_the_input(name: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_spec({**VALID_PROPS, name: Unknown()}, DEFAULTS)
    assert [f.property for f in caught.value.faults] == [name]


def test_unknown_does_not_hide_faults_of_other_inputs() -> None:
    faults = check_inputs({**VALID_PROPS, "vm_name": Unknown(), "vcpu": 0}, DEFAULTS)[1]
    assert [f.property for f in faults] == ["vcpu"]


# --- round trip and derived paths ---

VALID_INPUTS = st.fixed_dictionaries(
    {
        "vm_name": VALID_NAME,
        "memory_mib": st.integers(1, MAX_MEMORY_MIB),
        "vcpu": st.integers(1, MAX_VCPU),
    },
    optional={
        "state": st.sampled_from([s.value for s in RunState]),
        "disk_size_gib": st.integers(1, MAX_DISK_SIZE_GIB),
        "network_bridge": st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_-]{0,14}\Z"),
        "cloud_init_user_data": st.text(min_size=1, max_size=200),
        "uri": st.sampled_from(
            ["qemu:///system", "qemu+ssh://root@hv1/system", "qemu+ssh://h:2222/system?keyfile=/k"]
        ),
        "domain_type": st.sampled_from(["kvm", "qemu"]),
        "images_dir": st.sampled_from(["/var/lib/libvirt/images", "/srv/vms/", "/a/./b"]),
        "shutdown_timeout_s": st.integers(0, 3600),
        "claim": st.sampled_from([CLAIM, CLAIM.replace("web01", "db-2")]),
    },
).flatmap(
    lambda props: st.sampled_from(
        [
            {**props, "disk_path": BASE_PATH},
            {**props, "disk_path": "default:base.qcow2"},
            {**props, "artifact": "alexander4/ubuntu-22.04-cloud:1.4"},
        ]
    )
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_INPUTS)
def test_to_inputs_round_trips_through_parse_spec(props: dict[str, Any]) -> None:
    spec = parse_spec(props, DEFAULTS)
    assert parse_spec(spec.to_inputs(), DEFAULTS) == spec


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_INPUTS)
def test_engine_floats_and_numeric_strings_give_the_same_spec(props: dict[str, Any]) -> None:
    spec = parse_spec(props, DEFAULTS)
    as_floats = {k: float(v) if type(v) is int else v for k, v in spec.to_inputs().items()}
    as_strings = {k: str(v) if type(v) is int else v for k, v in spec.to_inputs().items()}
    assert parse_spec(as_floats, DEFAULTS) == spec
    assert parse_spec(as_strings, DEFAULTS) == spec


def test_overlay_path_is_images_dir_slash_name_qcow2() -> None:
    assert spec_of(images_dir="/srv/vms/").overlay_path == "/srv/vms/web01.qcow2"


@given(st.text(min_size=1, max_size=300))
def test_seed_iso_path_hashes_the_user_data(user_data: str) -> None:
    spec = replace(spec_of(images_dir="/srv/vms"), cloud_init_user_data=user_data)
    digest = hashlib.sha256(user_data.encode()).hexdigest()[:8]
    assert spec.seed_hash == digest
    assert spec.seed_iso_path == f"/srv/vms/web01-seed-{digest}.iso"


def test_seed_iso_path_of_a_known_user_data() -> None:
    spec = spec_of(cloud_init_user_data="#cloud-config\n")
    expected = hashlib.sha256(b"#cloud-config\n").hexdigest()[:8]
    assert spec.seed_iso_path == f"/var/lib/libvirt/images/web01-seed-{expected}.iso"
    assert spec.seed_iso_path.startswith(f"{DEFAULT_IMAGES_DIR}/{spec.seed_iso_prefix}")


def test_no_user_data_means_no_seed() -> None:
    spec = spec_of()
    assert (spec.seed_hash, spec.seed_iso_path) == (None, None)


def test_different_user_data_gives_a_different_seed_path() -> None:
    one = spec_of(cloud_init_user_data="#cloud-config\na: 1\n")
    two = spec_of(cloud_init_user_data="#cloud-config\na: 2\n")
    assert one.seed_iso_path != two.seed_iso_path


def test_disk_size_bytes_is_gib() -> None:
    assert spec_of(disk_size_gib=30).disk_size_bytes == 30 * 1024**3
    assert spec_of().disk_size_bytes is None


# --- fuzz ---

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.from_regex(r"\A[ +-]?\d{1,6}(\.\d{0,2})?\Z"),
    st.sampled_from(["qemu:///system", "qemu+ssh://[::1/system", "/x", "p:v", "a:1", "kvm"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(Unknown),
)
FUZZ_PROPS = st.dictionaries(
    st.one_of(st.sampled_from([*ALL_INPUTS, "artifact"]), st.text(max_size=10)),
    ANY_VALUE,
    max_size=16,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(FUZZ_PROPS)
def test_fuzzed_properties_only_ever_produce_faults_or_input_error(props: dict[str, Any]) -> None:
    values, faults = check_inputs(props, DEFAULTS)
    assert isinstance(values, dict)
    assert all(isinstance(f, InputFault) and f.property and f.reason for f in faults)
    try:
        spec = parse_spec(props, DEFAULTS)
    except InputError as exc:
        assert exc.faults
    else:
        # parse_spec reads recorded outputs, which may lack the claim new inputs need
        assert [f.property for f in faults] in ([], ["claim"])
        assert check_inputs(props, DEFAULTS, require_claim=False)[1] == []
        assert isinstance(spec, VmSpec)


# --- adopt and disk_mode ---


@pytest.mark.parametrize(
    "given",
    [
        "8F1C2A4E-9B0D-4C1E-8F3A-2B5D7E9A1C3F",
        "{8f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f}",
        "urn:uuid:8f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f",
        " 8f1c2a4e9b0d4c1e8f3a2b5d7e9a1c3f ",
    ],
)
def test_adopt_reads_a_uuid_in_any_spelling_as_libvirt_prints_it(given: str) -> None:
    spec = spec_of(adopt=given, disk_mode="attach")
    assert spec.adopt == "8f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f"


def test_adopt_that_is_no_uuid_is_refused_naming_where_to_find_it() -> None:
    faults = faults_for(adopt="web01", disk_mode="attach")
    assert [f.property for f in faults] == ["adopt"]
    assert "virsh domuuid" in faults[0].reason


def test_adopt_with_an_overlay_root_is_refused_naming_the_fix() -> None:
    faults = faults_for(adopt="8f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f")
    assert [f.property for f in faults] == ["disk_mode"]
    assert "disk_mode='attach'" in faults[0].reason


def test_an_attached_root_takes_no_size_and_no_artifact() -> None:
    faults = faults_for(disk_mode="attach", disk_size_gib=10)
    assert [f.property for f in faults] == ["disk_size_gib"]
    props = {k: v for k, v in VALID_PROPS.items() if k != "disk_path"}
    faults = check_inputs({**props, "artifact": "ubuntu:22.04", "disk_mode": "attach"}, DEFAULTS)[1]
    assert [f.property for f in faults] == ["artifact"]


def test_an_attached_root_is_disk_path_itself_and_an_overlay_the_vms_own_file() -> None:
    assert spec_of(disk_mode="attach").root_path == BASE_PATH
    assert spec_of().root_path == spec_of().overlay_path


def test_a_data_disk_without_serial_round_trips() -> None:
    disks = normalised(data_disks=[{"path": "/srv/d.qcow2", "serial": False}])["data_disks"]
    assert disks[0]["serial"] is False
    assert spec_of(data_disks=disks).data_disks[0].serial is None
