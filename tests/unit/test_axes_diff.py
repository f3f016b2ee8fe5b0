"""axes.diff: every row of the spec's diff table, from inputs alone and with the live host."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import pytest

from pulumi_vigo_vm.virt.power import PowerState
from pulumi_vigo_vm.vm.axes import DiffDecision, Observed, ResolvedBase, diff
from pulumi_vigo_vm.vm.devices import DataDisk, Nic
from pulumi_vigo_vm.vm.domain_xml import (
    DiskTune,
    DomainConfig,
    GraphicsDevice,
    LiveDomain,
    NicDevice,
    WatchdogDevice,
)
from pulumi_vigo_vm.vm.fields import INPUTS
from pulumi_vigo_vm.vm.hardware import Watchdog
from pulumi_vigo_vm.vm.spec import BaseSource, RunState, VmSpec
from pulumi_vigo_vm.vm.tuning import Filesystem, HostDevice, Numa, NumaMode

from ._values import (
    CLAIM,
    GIB,
    IDENTITY,
    NOTHING,
    converged,
    make_base,
    make_recorded,
    make_spec,
    overlay_for,
)

OTHER_CLAIM = CLAIM.replace("::web01", "::web01-renamed")

ARTIFACT = BaseSource("artifact", "alexander4/ubuntu-22.04-cloud:1.4")
ID_A = "a" * 64
ID_B = "b" * 64

# (old-spec changes, new-spec changes, the input that forces a replace)
REPLACE_DBR_ROWS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "disk_path-other-file": ({}, {"base": BaseSource("file", "/srv/other.qcow2")}, "disk_path"),
    "disk_path-to-pool": ({}, {"base": BaseSource("pool", "default:base.qcow2")}, "disk_path"),
    "disk_path-to-artifact": ({}, {"base": ARTIFACT}, "artifact"),
    "artifact-other-tag": (
        {"base": ARTIFACT},
        {"base": BaseSource("artifact", "alexander4/ubuntu-22.04-cloud:1.5")},
        "artifact",
    ),
    "user-data-changed": (
        {},
        {"cloud_init_user_data": "#cloud-config\nx: 2\n"},
        "cloud_init_user_data",
    ),
    "user-data-added": (
        {"cloud_init_user_data": None},
        {"cloud_init_user_data": "#cloud-config\n"},
        "cloud_init_user_data",
    ),
    "user-data-removed": ({}, {"cloud_init_user_data": None}, "cloud_init_user_data"),
    "images_dir": ({}, {"images_dir": "/srv/vms"}, "images_dir"),
}

# (old-spec changes, new-spec changes, the input named among the update reasons)
UPDATE_ROWS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "memory": ({}, {"memory_mib": 8192}, "memory_mib"),
    "vcpu": ({}, {"vcpu": 8}, "vcpu"),
    "bridge-changed": ({}, {"network_bridge": "br1"}, "network_bridge"),
    "bridge-removed": ({}, {"network_bridge": None}, "network_bridge"),
    "bridge-added": ({"network_bridge": None}, {"network_bridge": "br0"}, "network_bridge"),
    "domain_type": ({}, {"domain_type": "qemu"}, "domain_type"),
    "disk-larger": ({}, {"disk_size_gib": 40}, "disk_size_gib"),
    "running-to-stopped": ({}, {"state": RunState.STOPPED}, "state"),
    "stopped-to-running": ({"state": RunState.STOPPED}, {}, "state"),
    "running-to-defined": ({}, {"state": RunState.DEFINED}, "state"),
    "running-to-absent": ({}, {"state": RunState.ABSENT}, "state"),
    "shutdown-timeout": ({}, {"shutdown_timeout_s": 300}, "shutdown_timeout_s"),
    "claim": ({}, {"claim": OTHER_CLAIM}, "claim"),
    "claim-added-to-previous-release-state": ({"claim": None}, {}, "claim"),
}

WITH_AND_WITHOUT_HOST = pytest.mark.parametrize(
    "host_reachable", [False, True], ids=["inputs-only", "with-host"]
)


def decide(old: VmSpec, new: VmSpec, host_reachable: bool) -> DiffDecision:
    """diff of old -> new; the host, when reachable, shows ``old`` fully converged."""
    base = make_base()
    if not host_reachable:
        return diff(make_recorded(old, base), new)
    return diff(make_recorded(old, base), new, converged(old, base), base)


SPEC_VARIANTS = {
    "full": {},
    "no-nic": {"network_bridge": None},
    "no-user-data": {"cloud_init_user_data": None},
    "base-size-disk": {"disk_size_gib": None},
    "pool-base": {"base": BaseSource("pool", "default:base.qcow2")},
    "remote-qemu": {"uri": "qemu+ssh://root@hv1/system", "domain_type": "qemu"},
}


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize("variant", SPEC_VARIANTS.values(), ids=SPEC_VARIANTS)
def test_nothing_differs_is_no_change(variant: dict[str, Any], host_reachable: bool) -> None:
    spec = make_spec(**variant)
    decision = decide(spec, spec, host_reachable)
    assert decision == DiffDecision()
    assert not decision.changed


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.STOPPED, RunState.DEFINED])
def test_converged_vm_in_each_state_is_no_change(state: RunState, host_reachable: bool) -> None:
    spec = make_spec(state=state)
    assert not decide(spec, spec, host_reachable).changed


@WITH_AND_WITHOUT_HOST
def test_vm_name_change_is_replace_with_delete_before_replace(host_reachable: bool) -> None:
    """Every replace deletes first: a create-before-delete would adopt the live domain."""
    decision = decide(make_spec(), make_spec(vm_name="web02"), host_reachable)
    assert decision.replaces == ("vm_name",)
    assert decision.delete_before_replace


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize(
    "new",
    [
        {"vm_name": "web02"},
        {"uri": "qemu+ssh://root@hv2/system"},
        {"images_dir": "/srv/vms"},
        {"disk_size_gib": 10},
        {"cloud_init_user_data": None},
        {"base": ARTIFACT},
    ],
    ids=lambda c: next(iter(c)),
)
def test_every_replace_is_delete_before_replace(new: dict[str, Any], host_reachable: bool) -> None:
    decision = decide(make_spec(), make_spec(**new), host_reachable)
    assert decision.replaces
    assert decision.delete_before_replace


@WITH_AND_WITHOUT_HOST
def test_update_alone_is_not_delete_before_replace(host_reachable: bool) -> None:
    decision = decide(make_spec(), make_spec(memory_mib=1024, claim=OTHER_CLAIM), host_reachable)
    assert decision.changed and decision.replaces == ()
    assert not decision.delete_before_replace


@WITH_AND_WITHOUT_HOST
def test_uri_change_is_replace(host_reachable: bool) -> None:
    decision = decide(make_spec(), make_spec(uri="qemu+ssh://root@hv2/system"), host_reachable)
    assert decision.replaces == ("uri",)


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize(
    ("old", "new", "input_name"), REPLACE_DBR_ROWS.values(), ids=REPLACE_DBR_ROWS
)
def test_base_or_user_data_change_is_replace_delete_before_replace(
    old: dict[str, Any], new: dict[str, Any], input_name: str, host_reachable: bool
) -> None:
    decision = decide(make_spec(**old), make_spec(**new), host_reachable)
    assert input_name in decision.replaces
    assert decision.delete_before_replace


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize(("old_gib", "new_gib"), [(30, 20), (30, 29), (2, 1)])
def test_smaller_disk_is_replace(old_gib: int, new_gib: int, host_reachable: bool) -> None:
    decision = decide(
        make_spec(disk_size_gib=old_gib), make_spec(disk_size_gib=new_gib), host_reachable
    )
    assert decision.replaces == ("disk_size_gib",)


@WITH_AND_WITHOUT_HOST
@pytest.mark.parametrize(("old", "new", "input_name"), UPDATE_ROWS.values(), ids=UPDATE_ROWS)
def test_in_place_change_is_update_without_replace(
    old: dict[str, Any], new: dict[str, Any], input_name: str, host_reachable: bool
) -> None:
    decision = decide(make_spec(**old), make_spec(**new), host_reachable)
    assert decision.replaces == ()
    assert decision.changed
    assert input_name in decision.reasons


def test_several_replacing_inputs_are_all_named() -> None:
    new = make_spec(vm_name="web02", cloud_init_user_data="#cloud-config\nnew\n", disk_size_gib=1)
    decision = diff(make_recorded(make_spec()), new)
    assert set(decision.replaces) == {"vm_name", "cloud_init_user_data", "disk_size_gib"}
    assert decision.delete_before_replace


# --- rows that only the live host can show: inputs identical ---

SPEC = make_spec()
ARTIFACT_SPEC = make_spec(base=ARTIFACT)
OTHER_DEFINITION: dict[str, dict[str, Any]] = {
    "memory": {"memory_mib": 2048},
    "vcpu": {"vcpu": 1},
    "bridge": {"nics": (NicDevice("bridge", "br9", IDENTITY.mac_address),)},
    "no-nic": {"nics": ()},
    "domain_type": {"domain_type": "qemu"},
    "overlay-path": {"overlay_path": "/elsewhere/web01.qcow2"},
    "seed-path": {"seed_iso_path": None},
}


def drifted_domain(spec: VmSpec, **changes: Any) -> LiveDomain:
    live = converged(spec).domain
    assert live is not None
    return replace(live, config=replace(live.config, **changes))


# (spec, resolved base, observation, replaced input)
LIVE_REPLACE_ROWS: dict[str, tuple[VmSpec, ResolvedBase, Observed, str]] = {
    "base-resolves-to-another-path": (
        SPEC,
        make_base(path="/srv/moved/base.qcow2"),
        converged(SPEC),
        "disk_path",
    ),
    "base-resolves-to-another-format": (
        SPEC,
        make_base(format="raw"),
        converged(SPEC),
        "disk_path",
    ),
    "artifact-resolves-to-another-id": (
        ARTIFACT_SPEC,
        make_base(artifact_id=ID_B),
        converged(ARTIFACT_SPEC),
        "artifact",
    ),
    "overlay-missing": (SPEC, make_base(), converged(SPEC, overlay=None), "disk_path"),
    "overlay-backed-by-another-file": (
        SPEC,
        make_base(),
        converged(SPEC, overlay=overlay_for(SPEC, make_base(), backing_file="/srv/old.qcow2")),
        "disk_path",
    ),
    "overlay-of-artifact-missing": (
        ARTIFACT_SPEC,
        make_base(artifact_id=ID_A),
        converged(ARTIFACT_SPEC, overlay=None),
        "artifact",
    ),
}


def recorded_for(spec: VmSpec) -> Any:
    base = make_base(artifact_id=ID_A) if spec.base.kind == "artifact" else make_base()
    return make_recorded(spec, base)


@pytest.mark.parametrize(
    ("spec", "base", "observed", "input_name"), LIVE_REPLACE_ROWS.values(), ids=LIVE_REPLACE_ROWS
)
def test_base_or_overlay_differing_on_the_host_is_replace_delete_before_replace(
    spec: VmSpec, base: ResolvedBase, observed: Observed, input_name: str
) -> None:
    decision = diff(recorded_for(spec), spec, observed, base)
    assert decision.replaces == (input_name,)
    assert decision.delete_before_replace


# (spec, observation, expected reason fragment)
LIVE_UPDATE_ROWS: dict[str, tuple[VmSpec, Observed, str]] = {
    **{
        f"definition-drifted-{name}": (
            SPEC,
            converged(SPEC, domain=drifted_domain(SPEC, **changes)),
            "drift",
        )
        for name, changes in OTHER_DEFINITION.items()
    },
    "run-state-stopped-want-running": (SPEC, converged(SPEC, power=PowerState.SHUTOFF), "running"),
    "run-state-paused-want-running": (SPEC, converged(SPEC, power=PowerState.PAUSED), "running"),
    "run-state-crashed-want-running": (SPEC, converged(SPEC, power=PowerState.CRASHED), "running"),
    "run-state-running-want-stopped": (
        make_spec(state=RunState.STOPPED),
        converged(make_spec(state=RunState.STOPPED), power=PowerState.RUNNING),
        "stopped",
    ),
    "seed-iso-missing": (SPEC, converged(SPEC, seed_present=False), "seed"),
    "domain-missing": (SPEC, converged(SPEC, domain=None, power=None), "domain"),
    "domain-missing-while-defined": (
        make_spec(state=RunState.DEFINED),
        converged(make_spec(state=RunState.DEFINED), domain=None, power=None),
        "domain",
    ),
}


@pytest.mark.parametrize(
    ("spec", "observed", "fragment"), LIVE_UPDATE_ROWS.values(), ids=LIVE_UPDATE_ROWS
)
def test_definition_run_state_seed_or_domain_differing_on_the_host_is_update(
    spec: VmSpec, observed: Observed, fragment: str
) -> None:
    decision = diff(recorded_for(spec), spec, observed, make_base())
    assert decision.replaces == ()
    assert decision.changed
    assert any(fragment in reason for reason in decision.reasons), decision.reasons


ALL_LIVE_ROWS = {
    **{k: (spec, base, observed) for k, (spec, base, observed, _) in LIVE_REPLACE_ROWS.items()},
    **{k: (spec, make_base(), observed) for k, (spec, observed, _) in LIVE_UPDATE_ROWS.items()},
}


@pytest.mark.parametrize(("spec", "base", "observed"), ALL_LIVE_ROWS.values(), ids=ALL_LIVE_ROWS)
def test_host_only_difference_is_no_change_when_the_host_is_unreachable(
    spec: VmSpec, base: ResolvedBase, observed: Observed
) -> None:
    assert diff(recorded_for(spec), spec) == DiffDecision()
    assert diff(recorded_for(spec), spec, None, None) == DiffDecision()


@pytest.mark.parametrize(
    "power", [PowerState.RUNNING, PowerState.SHUTOFF, PowerState.PAUSED, PowerState.CRASHED]
)
def test_defined_state_accepts_any_run_state_on_the_host(power: PowerState) -> None:
    spec = make_spec(state=RunState.DEFINED)
    assert not diff(recorded_for(spec), spec, converged(spec, power=power), make_base()).changed


@pytest.mark.parametrize("power", [PowerState.SHUTOFF, PowerState.CRASHED])
def test_stopped_state_accepts_any_inactive_run_state(power: PowerState) -> None:
    spec = make_spec(state=RunState.STOPPED)
    assert not diff(recorded_for(spec), spec, converged(spec, power=power), make_base()).changed


def test_vm_without_user_data_needs_no_seed_on_the_host() -> None:
    spec = make_spec(cloud_init_user_data=None)
    observed = converged(spec, seed_present=False)
    assert not diff(recorded_for(spec), spec, observed, make_base()).changed


def test_vm_without_explicit_disk_size_is_converged_at_the_base_size() -> None:
    spec = make_spec(disk_size_gib=None)
    assert not diff(recorded_for(spec), spec, converged(spec), make_base()).changed


def test_explicit_disk_size_smaller_than_the_live_overlay_is_replace() -> None:
    old = make_spec(disk_size_gib=None)
    observed = converged(old, overlay=overlay_for(old, make_base(), virtual_size=50 * GIB))
    decision = diff(recorded_for(old), make_spec(disk_size_gib=40), observed, make_base())
    assert decision.replaces == ("disk_size_gib",)


def test_explicit_disk_size_larger_than_the_live_overlay_is_update() -> None:
    old = make_spec(disk_size_gib=None)
    decision = diff(recorded_for(old), make_spec(disk_size_gib=40), converged(old), make_base())
    assert decision.replaces == ()
    assert "disk_size_gib" in decision.reasons


def test_absent_vm_with_nothing_on_the_host_is_no_change() -> None:
    spec = make_spec(state=RunState.ABSENT)
    assert not diff(recorded_for(spec), spec, NOTHING, make_base()).changed


def test_absent_vm_whose_domain_is_still_on_the_host_is_update() -> None:
    spec = make_spec(state=RunState.ABSENT)
    decision = diff(recorded_for(spec), spec, converged(make_spec()), make_base())
    assert decision.replaces == ()
    assert decision.changed


OTHER_UUID = "11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize(
    ("marked", "claim"),
    [(False, None), (True, None), (True, OTHER_CLAIM)],
    ids=["unmarked", "unclaimed", "other-claim"],
)
def test_same_named_domain_not_ours_on_the_host_is_not_silently_converged(
    marked: bool, claim: str | None
) -> None:
    """Another UUID than the recorded one, and a marker that does not name our claim."""
    live = drifted_domain(SPEC, uuid=OTHER_UUID)
    observed = converged(SPEC, domain=replace(live, marked=marked, claim=claim))
    decision = diff(recorded_for(SPEC), SPEC, observed, make_base())
    assert decision.replaces == ()
    assert "same-named domain not owned by us" in decision.reasons


def test_domain_marked_with_our_claim_under_another_uuid_is_ours() -> None:
    observed = converged(SPEC, domain=drifted_domain(SPEC, uuid=OTHER_UUID))
    assert not diff(recorded_for(SPEC), SPEC, observed, make_base()).changed


@pytest.mark.parametrize(
    ("marked", "claim"),
    [(False, None), (True, None), (True, OTHER_CLAIM)],
    ids=["unmarked", "previous-release-marker", "renamed-with-alias"],
)
def test_domain_with_the_recorded_uuid_is_ours_and_its_marker_is_an_update(
    marked: bool, claim: str | None
) -> None:
    live = converged(SPEC).domain
    assert live is not None
    observed = converged(SPEC, domain=replace(live, marked=marked, claim=claim))
    decision = diff(recorded_for(SPEC), SPEC, observed, make_base())
    assert decision.replaces == ()
    assert decision.reasons == ("ownership marker names another claim",)


def test_state_of_the_previous_release_gets_the_claim_written_as_an_update() -> None:
    old = make_spec(claim=None)
    live = converged(old).domain
    assert live is not None and live.claim is None
    decision = diff(recorded_for(old), SPEC, converged(old), make_base())
    assert decision.replaces == ()
    assert set(decision.reasons) == {"claim", "ownership marker names another claim"}


@pytest.mark.parametrize(
    "backing",
    [None, "/srv/someone-elses-base.qcow2"],
    ids=["no-backing-file", "another-base"],
)
def test_absent_vm_with_an_unproven_overlay_at_its_path_is_no_update(backing: str | None) -> None:
    """Only an overlay the outputs vouch for (on the recorded base) is worth removing."""
    spec = make_spec(state=RunState.ABSENT)
    overlay = overlay_for(SPEC, make_base(), backing_file=backing)
    observed = converged(SPEC, domain=None, power=None, overlay=overlay)
    assert diff(recorded_for(spec), spec, observed, make_base()).reasons == ()


def test_absent_vm_with_its_recorded_overlay_left_is_update() -> None:
    spec = make_spec(state=RunState.ABSENT)
    observed = converged(SPEC, domain=None, power=None)
    decision = diff(recorded_for(spec), spec, observed, make_base())
    assert decision.reasons == ("state",)


PACKAGE_DECIDES = {"uuid", "console_log_path", "guest_agent", "discard"}
"""Fields of a definition no input sets: a drift of them is an update naming nothing."""

ADDED: dict[str, object] = {
    "host_devices": (HostDevice("usb", "046d:c52b"),),
    "filesystems": (Filesystem("/srv/share", "share"),),
    "cpu_pinning": ("0",),
    "numa": Numa(NumaMode.STRICT, "0"),
    "iothreads": 2,
}
"""A value of each field that is empty in a converged VM of the sample spec."""


@pytest.mark.parametrize(
    "name", [f.name for f in dataclasses.fields(DomainConfig) if f.name not in PACKAGE_DECIDES]
)
def test_a_drift_of_any_definition_field_names_the_input_it_comes_from(name: str) -> None:
    """Every field a user's input sets: a new field without its input fails here."""
    disk = DataDisk("/srv/data.qcow2", serial="data")
    spec = make_spec(
        nics=(Nic("bridge", "br0"),),
        network_bridge=None,
        data_disks=(disk,),
        watchdog=Watchdog(),  # given: the package's (omitted, the domain's own is no drift)
        graphics="vnc",
    )
    live = converged(spec).domain
    assert live is not None
    value = getattr(live.config, name)
    other: object = {
        bool: lambda v: not v,
        int: lambda v: v + 1,
        str: lambda v: v + "x",
        tuple: lambda v: () if v else ADDED.get(name, ()),
        type(None): lambda v: ADDED.get(name, "q35" if name == "machine" else "x86_64"),
        DiskTune: lambda v: DiskTune(cache="none"),
        WatchdogDevice: lambda v: replace(v, action="none"),
        GraphicsDevice: lambda v: replace(v, type="spice"),
    }[type(value)](value)
    observed = converged(spec, domain=replace(live, config=replace(live.config, **{name: other})))
    decision = diff(recorded_for(spec), spec, observed, make_base())
    assert decision.replaces == () and decision.changed
    assert decision.updates and set(decision.updates) <= {f.name for f in INPUTS}, decision
