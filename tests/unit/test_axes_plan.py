"""axes.plan_converge / plan_remove: the ordered actions for each state of the host."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pulumi_vigo_vm.errors import ImageError, NotOwnedError
from pulumi_vigo_vm.virt.power import PowerState
from pulumi_vigo_vm.vm.axes import (
    Action,
    Observed,
    Plan,
    Recorded,
    desired_domain,
    diff,
    plan_converge,
    plan_remove,
    refuse_nic_sources,
)
from pulumi_vigo_vm.vm.devices import DataDisk, Nic
from pulumi_vigo_vm.vm.domain_xml import GraphicsDevice, LiveDomain, NicDevice
from pulumi_vigo_vm.vm.filenames import console_log_path
from pulumi_vigo_vm.vm.inputs import DiskMode
from pulumi_vigo_vm.vm.model import NicSource
from pulumi_vigo_vm.vm.ownership import owner_of, removal_candidates
from pulumi_vigo_vm.vm.spec import RunState, VmSpec

from ._values import (
    BASE_PATH,
    CLAIM,
    GIB,
    IDENTITY,
    NOTHING,
    converged,
    host_files,
    make_base,
    make_recorded,
    make_spec,
    overlay_for,
)

A = Action
BASE = make_base()
RUNNING = make_spec()
STOPPED = make_spec(state=RunState.STOPPED)
DEFINED = make_spec(state=RunState.DEFINED)
OTHER_CLAIM = CLAIM.replace("::web01", "::web01-old")
OTHER_UUID = "11111111-2222-4333-8444-555555555555"


def plan(spec: VmSpec, observed: Observed, recorded: Recorded | None = None) -> tuple[Action, ...]:
    return plan_converge(spec, observed, BASE, IDENTITY, recorded).actions


def with_live(spec: VmSpec, **changes: Any) -> LiveDomain:
    """The converged live domain of ``spec`` with some definition fields changed."""
    live = converged(spec).domain
    assert live is not None
    return replace(live, config=replace(live.config, **changes))


def running_as(spec: VmSpec, live: LiveDomain, power: PowerState) -> Observed:
    """A host whose persistent definition is ``live``; an active guest runs that one."""
    running = live.config if power.is_active else None
    return converged(spec, domain=live, power=power, running=running)


# --- from nothing ---


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (RUNNING, (A.DEFINE, A.WRITE_SEED, A.CREATE_OVERLAY, A.SET_AUTOSTART, A.START)),
        (STOPPED, (A.DEFINE, A.WRITE_SEED, A.CREATE_OVERLAY)),
        (DEFINED, (A.DEFINE, A.WRITE_SEED, A.CREATE_OVERLAY)),
        (
            make_spec(cloud_init_user_data=None),
            (A.DEFINE, A.CREATE_OVERLAY, A.SET_AUTOSTART, A.START),
        ),
    ],
    ids=["running", "stopped", "defined", "running-without-user-data"],
)
def test_plan_from_nothing_defines_first_then_seed_overlay_then_power(
    spec: VmSpec, expected: tuple[Action, ...]
) -> None:
    """The marked domain comes before any file: a crashed create leaves something ours."""
    result = plan_converge(spec, NOTHING, BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain == desired_domain(spec, IDENTITY)
    assert result.domain_is_new
    assert result.removals == ()


def test_plan_for_an_existing_domain_is_not_a_new_domain() -> None:
    observed = converged(RUNNING, domain=with_live(RUNNING, memory_mib=1), power=PowerState.SHUTOFF)
    result = plan_converge(RUNNING, observed, BASE, IDENTITY)
    assert result.actions == (A.DEFINE, A.START)
    assert not result.domain_is_new


def test_new_definition_carries_the_given_uuid_and_mac() -> None:
    domain = plan_converge(RUNNING, NOTHING, BASE, IDENTITY).domain
    assert domain is not None
    assert (domain.uuid, domain.mac_address) == (IDENTITY.uuid, IDENTITY.mac_address)
    assert domain.overlay_path == RUNNING.overlay_path
    assert domain.seed_iso_path == RUNNING.seed_iso_path


def test_definition_without_bridge_has_no_mac() -> None:
    domain = plan_converge(make_spec(network_bridge=None), NOTHING, BASE, IDENTITY).domain
    assert domain is not None
    assert (domain.nics, domain.mac_address) == ((), None)


# --- already converged ---


@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_converged_vm_has_an_empty_plan(spec: VmSpec) -> None:
    result = plan_converge(spec, converged(spec), BASE, IDENTITY)
    assert result.actions == ()
    assert result.domain is None
    assert not result.mutates
    assert not result.boots


@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_converged_vm_with_its_recorded_outputs_has_an_empty_plan(spec: VmSpec) -> None:
    live = converged(spec).domain
    assert live is not None
    observed = running_as(spec, live, converged(spec).power or PowerState.SHUTOFF)
    assert plan(spec, observed, make_recorded(spec, BASE)) == ()


# --- run state only ---


@pytest.mark.parametrize(
    ("spec", "power", "expected"),
    [
        (RUNNING, PowerState.SHUTOFF, (A.START,)),
        (RUNNING, PowerState.CRASHED, (A.START,)),
        (RUNNING, PowerState.PAUSED, (A.RESUME,)),
        (RUNNING, PowerState.SHUTTING_DOWN, (A.SHUTDOWN, A.START)),
        (STOPPED, PowerState.RUNNING, (A.SHUTDOWN,)),
        (STOPPED, PowerState.PAUSED, (A.SHUTDOWN,)),
        (STOPPED, PowerState.CRASHED, ()),
        (DEFINED, PowerState.RUNNING, ()),
        (DEFINED, PowerState.PAUSED, ()),
        (DEFINED, PowerState.SHUTOFF, ()),
    ],
    ids=lambda v: v.value if hasattr(v, "value") else None,
)
def test_run_state_drift_alone_is_fixed_by_power_actions_only(
    spec: VmSpec, power: PowerState, expected: tuple[Action, ...]
) -> None:
    result = plan_converge(spec, converged(spec, power=power), BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain is None


@pytest.mark.parametrize("power", list(PowerState), ids=str)
@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_update_acts_exactly_when_diff_reports_a_change(spec: VmSpec, power: PowerState) -> None:
    """diff saying "update" must lead to a plan that does something, or the diff never ends."""
    live = converged(spec).domain
    assert live is not None
    observed = running_as(spec, live, power)
    recorded = make_recorded(spec, BASE)
    decision = diff(recorded, spec, observed, BASE)
    assert plan_converge(spec, observed, BASE, IDENTITY, recorded).mutates == decision.changed


@pytest.mark.parametrize(
    ("marked", "claim"),
    [(False, None), (True, None), (True, OTHER_CLAIM)],
    ids=["unmarked", "previous-release", "renamed"],
)
def test_marker_update_acts_exactly_when_diff_reports_it(marked: bool, claim: str | None) -> None:
    observed = converged(RUNNING, domain=replace(with_live(RUNNING), marked=marked, claim=claim))
    recorded = make_recorded(RUNNING, BASE)
    assert diff(recorded, RUNNING, observed, BASE).changed
    assert plan(RUNNING, observed, recorded) == (A.WRITE_MARKER,)


# --- structural drift ---

DRIFTS = {  # beyond what the guest booted able to take live (see test_changes.py)
    "memory": {"memory_mib": 1024, "max_memory_mib": 1024},
    "vcpu": {"vcpu": 2, "max_vcpu": 2},
    "bridge": {"nics": (NicDevice("bridge", "br7", IDENTITY.mac_address),)},
    "domain_type": {"domain_type": "qemu"},
    "seed": {"seed_iso_path": "/var/lib/libvirt/images/web01-seed-00000000.iso"},
}


@pytest.mark.parametrize("drift", DRIFTS.values(), ids=DRIFTS)
@pytest.mark.parametrize(
    ("spec", "power", "expected"),
    [
        (RUNNING, PowerState.RUNNING, (A.DEFINE, A.SHUTDOWN, A.START)),
        (RUNNING, PowerState.SHUTOFF, (A.DEFINE, A.START)),
        (STOPPED, PowerState.RUNNING, (A.DEFINE, A.SHUTDOWN)),
        (STOPPED, PowerState.SHUTOFF, (A.DEFINE,)),
        (DEFINED, PowerState.RUNNING, (A.DEFINE,)),
        (DEFINED, PowerState.SHUTOFF, (A.DEFINE,)),
    ],
    ids=[
        "running-running",
        "running-off",
        "stopped-running",
        "stopped-off",
        "defined-running",
        "defined-off",
    ],
)
def test_structural_drift_redefines_with_the_same_identity_and_restarts_only_if_running(
    drift: dict[str, Any], spec: VmSpec, power: PowerState, expected: tuple[Action, ...]
) -> None:
    observed = running_as(spec, with_live(spec, **drift), power)
    result = plan_converge(spec, observed, BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain == desired_domain(spec, IDENTITY)
    assert result.domain is not None
    assert (result.domain.uuid, result.domain.mac_address) == (
        IDENTITY.uuid,
        IDENTITY.mac_address,
    )


def test_a_uuid_difference_alone_is_not_drift() -> None:
    observed = converged(RUNNING, domain=with_live(RUNNING, uuid="other"))
    assert plan(RUNNING, observed) == ()


def test_running_guest_is_restarted_when_it_runs_an_older_definition() -> None:
    """The persistent definition already matches; the guest still runs the old one."""
    old = with_live(RUNNING, memory_mib=1024, max_memory_mib=1024)
    observed = converged(RUNNING, running=old.config)
    result = plan_converge(RUNNING, observed, BASE, IDENTITY)
    assert result.actions == (A.SHUTDOWN, A.START)
    assert result.domain is None
    assert result.boots


@pytest.mark.parametrize(
    "power", [PowerState.RUNNING, PowerState.SHUTOFF], ids=["running", "shutoff"]
)
def test_new_console_log_name_is_redefined_without_restarting_the_guest(power: PowerState) -> None:
    """A package default (the log's folder) reaches the guest at its next boot, not now."""
    legacy = with_live(RUNNING, console_log_path="/var/log/libvirt/qemu/web01-console.log")
    observed = running_as(RUNNING, legacy, power)
    expected = (A.DEFINE,) if power is PowerState.RUNNING else (A.DEFINE, A.START)
    result = plan_converge(RUNNING, observed, BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain == desired_domain(RUNNING, IDENTITY)
    assert result.domain.console_log_path == console_log_path("web01")


def test_guest_still_running_with_the_legacy_log_name_is_left_running() -> None:
    legacy = with_live(RUNNING, console_log_path="/var/log/libvirt/qemu/web01-console.log")
    assert plan(RUNNING, converged(RUNNING, running=legacy.config)) == ()


def test_domain_missing_over_its_recorded_overlay_is_defined_again_and_started() -> None:
    observed = converged(RUNNING, domain=None, power=None)
    result = plan_converge(RUNNING, observed, BASE, IDENTITY, make_recorded(RUNNING, BASE))
    assert result.actions == (A.DEFINE, A.SET_AUTOSTART, A.START)
    assert result.domain_is_new


@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_a_wrong_autostart_flag_alone_is_set_and_nothing_restarts(spec: VmSpec) -> None:
    """The previous release never set the flag: an upgrade sets it, and only it."""
    observed = converged(spec, autostart=not spec.autostarts)
    recorded = make_recorded(spec, BASE)
    assert plan_converge(spec, observed, BASE, IDENTITY, recorded).actions == (A.SET_AUTOSTART,)
    assert diff(recorded, spec, observed, BASE).updates == ("autostart",)


def test_overlay_no_domain_references_and_nothing_recorded_is_refused() -> None:
    """Without proof the file is ours (another VM's data?), it is neither adopted nor touched."""
    observed = converged(RUNNING, domain=None, power=None)
    with pytest.raises(ImageError, match="already exists"):
        plan_converge(RUNNING, observed, BASE, IDENTITY)


@pytest.mark.parametrize(
    "backing", [None, "/srv/another-base.qcow2"], ids=["no-backing-file", "another-base"]
)
def test_recorded_overlay_not_on_the_recorded_base_is_not_adopted(backing: str | None) -> None:
    overlay = overlay_for(RUNNING, make_base(), backing_file=backing)
    observed = converged(RUNNING, domain=None, power=None, overlay=overlay)
    with pytest.raises(ImageError, match=RUNNING.overlay_path):
        plan_converge(RUNNING, observed, BASE, IDENTITY, make_recorded(RUNNING, BASE))


def test_overlay_recorded_under_another_path_is_not_adopted() -> None:
    recorded = replace(make_recorded(RUNNING, BASE), overlay_path="/srv/vms/web01.qcow2")
    observed = converged(RUNNING, domain=None, power=None)
    with pytest.raises(ImageError, match="already exists"):
        plan_converge(RUNNING, observed, BASE, IDENTITY, recorded)


def test_overlay_our_domain_does_not_reference_is_not_adopted() -> None:
    live = with_live(RUNNING, overlay_path="/srv/elsewhere/web01.qcow2")
    with pytest.raises(ImageError, match="already exists"):
        plan_converge(RUNNING, converged(RUNNING, domain=live), BASE, IDENTITY)


def test_overlay_our_domain_references_is_adopted_without_recorded_outputs() -> None:
    assert plan(RUNNING, converged(RUNNING)) == ()


@pytest.mark.parametrize("recorded", [False, True], ids=["no-recorded", "recorded"])
def test_base_at_the_vms_own_overlay_path_is_refused(recorded: bool) -> None:
    base = make_base(path=RUNNING.overlay_path)
    with pytest.raises(ImageError, match="disk_path"):
        plan_converge(
            RUNNING,
            NOTHING,
            base,
            IDENTITY,
            make_recorded(RUNNING, base) if recorded else None,
        )


def test_missing_seed_with_unchanged_hash_is_written_again() -> None:
    assert plan(RUNNING, converged(RUNNING, seed_present=False)) == (A.WRITE_SEED,)


def test_missing_overlay_is_created_over_the_base() -> None:
    assert plan(STOPPED, converged(STOPPED, overlay=None)) == (A.CREATE_OVERLAY,)


@pytest.mark.parametrize(
    "observed",
    [
        converged(RUNNING, seed_present=False, power=PowerState.SHUTOFF),
        converged(RUNNING, domain=with_live(RUNNING, seed_iso_path="/x/web01-seed-00000000.iso")),
        NOTHING,
    ],
    ids=["seed-rewritten", "seed-renamed", "from-nothing"],
)
def test_converging_never_removes_a_file(observed: Observed) -> None:
    """Old seeds are not removed by name pattern any more (a replace removes its own)."""
    result = plan_converge(RUNNING, observed, BASE, IDENTITY, make_recorded(RUNNING, BASE))
    assert A.REMOVE_FILES not in result.actions
    assert result.removals == ()


# --- overlay size and backing ---


@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.STOPPED], ids=str)
def test_larger_disk_grows_the_overlay(state: RunState) -> None:
    old = make_spec(state=state, disk_size_gib=30)
    new = replace(old, disk_size_gib=40)
    assert plan(new, converged(old)) == (A.GROW_OVERLAY,)


def test_disk_size_at_base_size_when_omitted_needs_no_overlay_action() -> None:
    spec = make_spec(disk_size_gib=None)
    overlay = converged(spec).overlay
    assert overlay is not None and overlay.virtual_size == BASE.virtual_size
    assert plan(spec, converged(spec)) == ()


@pytest.mark.parametrize("new_gib", [20, 29])
def test_smaller_disk_is_refused_with_image_error(new_gib: int) -> None:
    old = make_spec(disk_size_gib=30)
    with pytest.raises(ImageError, match="disk_size_gib"):
        plan_converge(replace(old, disk_size_gib=new_gib), converged(old), BASE, IDENTITY)


@pytest.mark.parametrize("backing", ["/srv/old-base.qcow2", None], ids=["other-file", "none"])
def test_overlay_on_another_base_is_refused_with_image_error(backing: str | None) -> None:
    overlay = overlay_for(RUNNING, make_base(), backing_file=backing)
    with pytest.raises(ImageError, match=RUNNING.overlay_path):
        plan_converge(RUNNING, converged(RUNNING, overlay=overlay), BASE, IDENTITY)


def test_overlay_grown_past_the_request_is_refused_not_shrunk() -> None:
    overlay = overlay_for(RUNNING, make_base(), virtual_size=31 * GIB)
    with pytest.raises(ImageError):
        plan_converge(RUNNING, converged(RUNNING, overlay=overlay), BASE, IDENTITY)


# --- ownership ---

NOT_OURS = {
    "unmarked": (False, None, "not created by pulumi_vigo_vm"),
    "unclaimed": (True, None, "did not record"),
    "other": (True, OTHER_CLAIM, OTHER_CLAIM),
}


def foreign(spec: VmSpec, marked: bool, claim: str | None) -> Observed:
    """A same-named domain of another UUID than ours, with the given marker."""
    live = replace(with_live(spec, uuid=OTHER_UUID), marked=marked, claim=claim)
    return converged(spec, domain=live)


@pytest.mark.parametrize(("marked", "claim", "why"), NOT_OURS.values(), ids=NOT_OURS)
@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
@pytest.mark.parametrize("recorded", [False, True], ids=["no-recorded", "recorded"])
def test_same_named_domain_not_ours_is_refused_by_plan_converge(
    spec: VmSpec, marked: bool, claim: str | None, why: str, recorded: bool
) -> None:
    observed = foreign(spec, marked, claim)
    with pytest.raises(NotOwnedError, match="web01") as caught:
        plan_converge(spec, observed, BASE, IDENTITY, make_recorded(spec) if recorded else None)
    assert why in str(caught.value)


@pytest.mark.parametrize(("marked", "claim", "why"), NOT_OURS.values(), ids=NOT_OURS)
def test_same_named_domain_not_ours_is_refused_by_plan_remove(
    marked: bool, claim: str | None, why: str
) -> None:
    observed = foreign(RUNNING, marked, claim)
    recorded = make_recorded(RUNNING)
    candidates = removal_candidates(RUNNING, None, recorded)
    with pytest.raises(NotOwnedError, match="web01") as caught:
        plan_remove(RUNNING, observed, recorded, candidates, host_files(RUNNING, observed))
    assert why in str(caught.value)


def test_domain_marked_with_our_claim_is_ours_whatever_its_uuid() -> None:
    observed = converged(RUNNING, domain=with_live(RUNNING, uuid=OTHER_UUID))
    assert plan(RUNNING, observed) == ()


@pytest.mark.parametrize(
    ("marked", "claim"),
    [(False, None), (True, None), (True, OTHER_CLAIM)],
    ids=["unmarked", "previous-release", "renamed-with-alias"],
)
def test_domain_with_the_recorded_uuid_is_ours_and_gets_our_claim_in_place(
    marked: bool, claim: str | None
) -> None:
    observed = converged(RUNNING, domain=replace(with_live(RUNNING), marked=marked, claim=claim))
    result = plan_converge(RUNNING, observed, BASE, IDENTITY, make_recorded(RUNNING))
    assert result.actions == (A.WRITE_MARKER,)
    assert result.domain is None  # the marker is rewritten in place, no redefine


def test_marker_rewrite_and_drift_are_fixed_together_by_the_redefine() -> None:
    live = replace(with_live(RUNNING, vcpu=1), claim=None)
    observed = converged(RUNNING, domain=live, power=PowerState.SHUTOFF)
    result = plan_converge(RUNNING, observed, BASE, IDENTITY, make_recorded(RUNNING))
    assert set(result.actions) == {A.DEFINE, A.START}  # the new definition carries the claim
    assert result.actions.index(A.START) == len(result.actions) - 1
    assert result.domain == desired_domain(RUNNING, IDENTITY)


def test_owned_domain_from_a_crashed_run_is_adopted() -> None:
    observed = converged(RUNNING, overlay=None, seed_present=False, power=PowerState.SHUTOFF)
    assert plan(RUNNING, observed) == (A.WRITE_SEED, A.CREATE_OVERLAY, A.START)


# --- remove ---

REMOVE_ONLY = {A.DESTROY, A.UNDEFINE, A.REMOVE_FILES}
OVERLAY, SEED = RUNNING.overlay_path, RUNNING.seed_iso_path
NO_SEED = make_spec(cloud_init_user_data=None)


def remove(spec: VmSpec, observed: Observed, recorded: Recorded | None, *extra: str) -> Plan:
    """plan_remove as the provider runs it: candidates from our domain and the outputs."""
    owned = observed.domain if owner_of(observed, spec, recorded).value == "ours" else None
    running_logs = [observed.running.console_log_path] if observed.running else []
    candidates = removal_candidates(spec, owned, recorded, running_logs)
    return plan_remove(spec, observed, recorded, candidates, host_files(spec, observed, *extra))


@pytest.mark.parametrize(
    ("spec", "observed", "expected", "removals"),
    [
        (RUNNING, converged(RUNNING), (A.DESTROY, A.UNDEFINE, A.REMOVE_FILES), (OVERLAY, SEED)),
        (
            RUNNING,
            converged(RUNNING, power=PowerState.PAUSED),
            (A.DESTROY, A.UNDEFINE, A.REMOVE_FILES),
            (OVERLAY, SEED),
        ),
        (STOPPED, converged(STOPPED), (A.UNDEFINE, A.REMOVE_FILES), (OVERLAY, SEED)),
        (NO_SEED, converged(NO_SEED), (A.DESTROY, A.UNDEFINE, A.REMOVE_FILES), (OVERLAY,)),
        (RUNNING, converged(RUNNING, domain=None, power=None), (A.REMOVE_FILES,), (OVERLAY, SEED)),
        (
            RUNNING,
            converged(RUNNING, overlay=None, seed_present=False),
            (A.DESTROY, A.UNDEFINE),
            (),
        ),
        (RUNNING, NOTHING, (), ()),
    ],
    ids=["running", "paused", "stopped", "no-seed", "overlay-only", "domain-only", "nothing"],
)
def test_remove_plan_powers_off_undefines_and_removes_the_files_proven_ours(
    spec: VmSpec, observed: Observed, expected: tuple[Action, ...], removals: tuple[str, ...]
) -> None:
    result = remove(spec, observed, make_recorded(spec))
    assert result.actions == expected
    assert set(result.removals) == set(removals)
    assert result.domain is None


def test_remove_plan_without_recorded_outputs_removes_what_our_domain_references() -> None:
    result = remove(RUNNING, converged(RUNNING), None)
    assert result.actions == (A.DESTROY, A.UNDEFINE, A.REMOVE_FILES)
    assert set(result.removals) == {OVERLAY, SEED}


def test_no_domain_and_nothing_recorded_removes_nothing_whatever_the_files() -> None:
    """state="absent" for a VM that never existed must not delete files of the same names."""
    observed = converged(RUNNING, domain=None, power=None)
    stale = "/var/lib/libvirt/images/web01-seed-00000000.iso"
    result = remove(RUNNING, observed, None, stale, console_log_path("web01"))
    assert result.actions == ()
    assert result.removals == ()


def test_seed_of_an_older_user_data_matched_only_by_its_name_is_kept() -> None:
    stale = "/var/lib/libvirt/images/web01-seed-00000000.iso"
    result = remove(RUNNING, converged(RUNNING), make_recorded(RUNNING), stale)
    assert stale not in result.removals
    assert set(result.removals) == {OVERLAY, SEED}


def test_console_logs_named_by_our_domain_or_running_guest_are_removed() -> None:
    legacy = "/var/log/libvirt/qemu/web01-console.log"
    observed = converged(RUNNING, running=with_live(RUNNING, console_log_path=legacy).config)
    result = remove(RUNNING, observed, make_recorded(RUNNING), legacy, console_log_path("web01"))
    assert set(result.removals) == {OVERLAY, SEED, legacy, console_log_path("web01")}


def test_console_log_nobody_names_is_kept() -> None:
    observed = converged(RUNNING, domain=None, power=None)
    result = remove(RUNNING, observed, make_recorded(RUNNING), console_log_path("web01"))
    assert console_log_path("web01") not in result.removals


def test_overlay_without_backing_file_is_never_removed() -> None:
    """A file without backing file at the overlay path may be a base: never removed."""
    overlay = overlay_for(RUNNING, make_base(), backing_file=None)
    result = remove(RUNNING, converged(RUNNING, overlay=overlay), make_recorded(RUNNING))
    assert OVERLAY not in result.removals
    assert result.removals == (SEED,)


@pytest.mark.parametrize("by_domain", [True, False], ids=["domain", "outputs"])
def test_a_copy_without_backing_file_is_the_vms_own_and_removed(by_domain: bool) -> None:
    """What the copy mode makes: a qcow2 naming no other file, at the VM's root name."""
    copy = make_spec(disk_mode=DiskMode.COPY)
    overlay = overlay_for(copy, make_base(), backing_file=None, backing_format=None)
    observed = converged(copy, overlay=overlay)
    if not by_domain:
        observed = replace(observed, domain=None, power=None)
    result = remove(copy, observed, make_recorded(copy))
    assert OVERLAY in result.removals


def test_a_file_with_a_backing_file_where_a_copy_is_expected_is_never_removed() -> None:
    copy = make_spec(disk_mode=DiskMode.COPY)
    observed = replace(converged(copy), domain=None, power=None)
    result = remove(copy, observed, make_recorded(copy))
    assert OVERLAY not in result.removals


def test_an_attached_root_is_never_removed() -> None:
    attached = make_spec(disk_mode=DiskMode.ATTACH, disk_size_gib=None)
    assert desired_domain(attached, IDENTITY).overlay_path == BASE_PATH
    result = remove(attached, converged(attached), make_recorded(attached), BASE_PATH)
    assert BASE_PATH not in result.removals and OVERLAY not in result.removals


WITH_DATA_DISK = make_spec(data_disks=(DataDisk("/srv/data/web01-data.qcow2"),))
ATTACHED_ROOT = make_spec(disk_mode=DiskMode.ATTACH, disk_size_gib=None)


@pytest.mark.parametrize(
    ("spec", "power", "first"),
    [
        (RUNNING, PowerState.RUNNING, A.DESTROY),
        (WITH_DATA_DISK, PowerState.RUNNING, A.SHUTDOWN),
        (ATTACHED_ROOT, PowerState.RUNNING, A.SHUTDOWN),
        (WITH_DATA_DISK, PowerState.PAUSED, A.DESTROY),
    ],
    ids=["all-disks-go", "data-disk-outlives", "attached-root-outlives", "paused-cannot-flush"],
)
def test_remove_shuts_a_guest_down_only_when_a_disk_outlives_it(
    spec: VmSpec, power: PowerState, first: Action
) -> None:
    """A graceful shutdown protects only what outlives the VM: its data disks, an attached
    root. A guest whose every disk is removed with it is powered off at once."""
    result = remove(spec, converged(spec, power=power), make_recorded(spec), BASE_PATH)
    assert result.actions[0] is first
    assert result.actions[1] is A.UNDEFINE


@pytest.mark.parametrize(
    "spec", [RUNNING, make_spec(state=RunState.ABSENT)], ids=["running", "absent"]
)
def test_remove_plan_never_touches_the_base(spec: VmSpec) -> None:
    observed = converged(RUNNING)
    result = remove(spec, observed, make_recorded(spec), BASE_PATH)
    assert set(result.actions) <= REMOVE_ONLY
    assert BASE_PATH not in result.removals


def test_recorded_base_at_the_overlay_path_is_never_removed() -> None:
    """Outputs where the base sits at the overlay path: the file is kept, domain or not."""
    recorded = replace(make_recorded(RUNNING), base_path=OVERLAY)
    overlay = overlay_for(RUNNING, make_base(), backing_file="/srv/some-backing.qcow2")
    result = remove(RUNNING, converged(RUNNING, overlay=overlay), recorded)
    assert OVERLAY not in result.removals


def test_a_base_not_yet_on_the_host_is_fetched_first_by_the_plan() -> None:
    missing = replace(BASE, format=None, virtual_size=None)
    result = plan_converge(RUNNING, NOTHING, missing, IDENTITY)
    assert result.actions[0] is A.FETCH_BASE
    assert A.FETCH_BASE not in plan_converge(RUNNING, NOTHING, BASE, IDENTITY).actions


@pytest.mark.parametrize(
    ("state", "refused"),
    [(RunState.RUNNING, True), (RunState.STOPPED, False), (RunState.DEFINED, False)],
)
def test_a_stopped_network_is_refused_only_for_a_vm_that_is_to_run(
    state: RunState, refused: bool
) -> None:
    nic = Nic("network", "backend")
    spec = make_spec(network_bridge=None, nics=(Nic("bridge", "br0"), nic), state=state)
    faults = refuse_nic_sources(spec, {1: NicSource(nic, present=True, active=False)}, "hv1")
    assert [(f.property, "[1].network 'backend'" in f.reason) for f in faults] == (
        [("nics", True)] if refused else []
    )


def test_a_missing_shorthand_bridge_is_refused_under_its_own_input() -> None:
    spec = make_spec(network_bridge="br9")
    (fault,) = refuse_nic_sources(spec, {0: NicSource(Nic("bridge", "br9"), False)}, "hv1")
    assert fault.property == "network_bridge" and "not a bridge on hv1" in fault.reason


def test_a_display_the_inputs_omit_is_the_domains_own_whatever_its_running_form() -> None:
    """A running display reports the listen address qemu.conf gave it and its port; the
    definition the package keeps has neither. That is no change of ours: nothing restarts
    (an adopted domain with a VNC display restarted on it)."""
    own = GraphicsDevice("vnc")
    persistent = with_live(RUNNING, graphics=own)
    running = replace(persistent.config, graphics=GraphicsDevice("vnc", "127.0.0.1", port=5900))
    observed = converged(RUNNING, domain=persistent, running=running)
    assert plan(RUNNING, observed) == ()
    assert plan(RUNNING, converged(RUNNING, domain=persistent, running=persistent.config)) == ()
