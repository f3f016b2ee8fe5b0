"""axes.plan_converge / plan_remove: the ordered actions for each state of the host."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pulumi_vigo_vm.axes import Action, Observed, desired_domain, diff, plan_converge, plan_remove
from pulumi_vigo_vm.errors import ImageError, NotOwnedError
from pulumi_vigo_vm.hypervisor import PowerState
from pulumi_vigo_vm.spec import RunState, VmSpec

from ._values import GIB, IDENTITY, NOTHING, converged, make_base, make_recorded, make_spec

A = Action
BASE = make_base()
RUNNING = make_spec()
STOPPED = make_spec(state=RunState.STOPPED)
DEFINED = make_spec(state=RunState.DEFINED)


def plan(spec: VmSpec, observed: Observed) -> tuple[Action, ...]:
    return plan_converge(spec, observed, BASE, IDENTITY).actions


def with_live(spec: VmSpec, **changes: Any) -> Any:
    """The converged live domain of ``spec`` with some definition fields changed."""
    live = converged(spec).domain
    assert live is not None
    return replace(live, config=replace(live.config, **changes))


# --- from nothing ---


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (RUNNING, (A.WRITE_SEED, A.CREATE_OVERLAY, A.DEFINE, A.START)),
        (STOPPED, (A.WRITE_SEED, A.CREATE_OVERLAY, A.DEFINE)),
        (DEFINED, (A.WRITE_SEED, A.CREATE_OVERLAY, A.DEFINE)),
        (make_spec(cloud_init_user_data=None), (A.CREATE_OVERLAY, A.DEFINE, A.START)),
    ],
    ids=["running", "stopped", "defined", "running-without-user-data"],
)
def test_plan_from_nothing_builds_seed_overlay_definition_then_power(
    spec: VmSpec, expected: tuple[Action, ...]
) -> None:
    result = plan_converge(spec, NOTHING, BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain == desired_domain(spec, IDENTITY)


def test_new_definition_carries_the_given_uuid_and_mac() -> None:
    domain = plan_converge(RUNNING, NOTHING, BASE, IDENTITY).domain
    assert domain is not None
    assert (domain.uuid, domain.mac_address) == (IDENTITY.uuid, IDENTITY.mac_address)
    assert domain.overlay_path == RUNNING.overlay_path
    assert domain.seed_iso_path == RUNNING.seed_iso_path


def test_definition_without_bridge_has_no_mac() -> None:
    domain = plan_converge(make_spec(network_bridge=None), NOTHING, BASE, IDENTITY).domain
    assert domain is not None
    assert (domain.network_bridge, domain.mac_address) == (None, None)


# --- already converged ---


@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_converged_vm_has_an_empty_plan(spec: VmSpec) -> None:
    result = plan_converge(spec, converged(spec), BASE, IDENTITY)
    assert result.actions == ()
    assert result.domain is None
    assert not result.mutates


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
    observed = converged(spec, power=power)
    decision = diff(make_recorded(spec, BASE), spec, observed, BASE)
    assert plan_converge(spec, observed, BASE, IDENTITY).mutates == decision.changed


# --- structural drift ---

DRIFTS = {
    "memory": {"memory_mib": 1024},
    "vcpu": {"vcpu": 2},
    "bridge": {"network_bridge": "br7"},
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
    observed = converged(spec, domain=with_live(spec, **drift), power=power)
    result = plan_converge(spec, observed, BASE, IDENTITY)
    assert result.actions == expected
    assert result.domain == desired_domain(spec, IDENTITY)
    assert result.domain is not None
    assert (result.domain.uuid, result.domain.mac_address) == (
        IDENTITY.uuid,
        IDENTITY.mac_address,
    )


def test_uuid_or_mac_differences_alone_are_not_drift() -> None:
    observed = converged(
        RUNNING, domain=with_live(RUNNING, uuid="other", mac_address="52:54:00:ff:ff:ff")
    )
    assert plan(RUNNING, observed) == ()


def test_domain_missing_over_an_existing_overlay_is_defined_again_and_started() -> None:
    observed = converged(RUNNING, domain=None, power=None)
    assert plan(RUNNING, observed) == (A.DEFINE, A.START)


def test_missing_seed_with_unchanged_hash_is_written_again() -> None:
    assert plan(RUNNING, converged(RUNNING, seed_present=False)) == (A.WRITE_SEED,)


def test_missing_overlay_is_created_over_the_base() -> None:
    assert plan(STOPPED, converged(STOPPED, overlay=None)) == (A.CREATE_OVERLAY,)


def test_stale_seeds_are_removed_after_converging() -> None:
    stale = ("/var/lib/libvirt/images/web01-seed-00000000.iso",)
    assert plan(RUNNING, converged(RUNNING, stale_seeds=stale)) == (A.REMOVE_STALE_SEEDS,)
    observed = converged(RUNNING, stale_seeds=stale, seed_present=False, power=PowerState.SHUTOFF)
    assert plan(RUNNING, observed) == (A.WRITE_SEED, A.START, A.REMOVE_STALE_SEEDS)


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
    overlay = replace(converged(RUNNING).overlay, backing_file=backing)
    with pytest.raises(ImageError, match=RUNNING.overlay_path):
        plan_converge(RUNNING, converged(RUNNING, overlay=overlay), BASE, IDENTITY)


def test_overlay_grown_past_the_request_is_refused_not_shrunk() -> None:
    overlay = replace(converged(RUNNING).overlay, virtual_size=31 * GIB)
    with pytest.raises(ImageError):
        plan_converge(RUNNING, converged(RUNNING, overlay=overlay), BASE, IDENTITY)


# --- ownership ---


@pytest.mark.parametrize("spec", [RUNNING, STOPPED, DEFINED], ids=["running", "stopped", "defined"])
def test_unowned_same_named_domain_is_refused_by_plan_converge(spec: VmSpec) -> None:
    live = replace(converged(spec).domain, owned=False)
    with pytest.raises(NotOwnedError, match="web01"):
        plan_converge(spec, converged(spec, domain=live), BASE, IDENTITY)


def test_unowned_same_named_domain_is_refused_by_plan_remove() -> None:
    live = replace(converged(RUNNING).domain, owned=False)
    with pytest.raises(NotOwnedError, match="web01"):
        plan_remove(RUNNING, converged(RUNNING, domain=live))


def test_owned_domain_from_a_crashed_run_is_adopted() -> None:
    observed = converged(RUNNING, overlay=None, seed_present=False, power=PowerState.SHUTOFF)
    assert plan(RUNNING, observed) == (A.WRITE_SEED, A.CREATE_OVERLAY, A.START)


# --- remove ---

REMOVE_ONLY = {A.DESTROY, A.UNDEFINE, A.REMOVE_OVERLAY, A.REMOVE_SEEDS}


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (converged(RUNNING), (A.DESTROY, A.UNDEFINE, A.REMOVE_OVERLAY, A.REMOVE_SEEDS)),
        (
            converged(RUNNING, power=PowerState.PAUSED),
            (A.DESTROY, A.UNDEFINE, A.REMOVE_OVERLAY, A.REMOVE_SEEDS),
        ),
        (converged(STOPPED), (A.UNDEFINE, A.REMOVE_OVERLAY, A.REMOVE_SEEDS)),
        (
            converged(make_spec(cloud_init_user_data=None)),
            (A.DESTROY, A.UNDEFINE, A.REMOVE_OVERLAY),
        ),
        (converged(RUNNING, domain=None, power=None), (A.REMOVE_OVERLAY, A.REMOVE_SEEDS)),
        (
            replace(NOTHING, stale_seeds=("/var/lib/libvirt/images/web01-seed-00000000.iso",)),
            (A.REMOVE_SEEDS,),
        ),
        (NOTHING, ()),
    ],
    ids=["running", "paused", "stopped", "no-seed", "overlay-only", "stale-seed-only", "nothing"],
)
def test_remove_plan_powers_off_undefines_and_removes_overlay_and_seeds(
    observed: Observed, expected: tuple[Action, ...]
) -> None:
    result = plan_remove(RUNNING, observed)
    assert result.actions == expected
    assert result.domain is None


@pytest.mark.parametrize(
    "spec", [RUNNING, make_spec(state=RunState.ABSENT)], ids=["running", "absent"]
)
def test_remove_plan_never_touches_the_base(spec: VmSpec) -> None:
    result = plan_remove(spec, converged(RUNNING, stale_seeds=("/x/web01-seed-00000000.iso",)))
    assert set(result.actions) <= REMOVE_ONLY
