"""A create interrupted at every step boundary: killed (no rollback) or failed (rollback).

The provider process reads ``VIGO_FAULT_INJECT`` (:mod:`pulumi_vigo_vm.vm.faults`) and
dies (SIGKILL) or raises before the named step of the named VM. Either way the run ends with
a clear error, a VM that already existed keeps every byte, and the next ``up`` converges
with no orphan domain, overlay, seed ISO or temporary file.
"""

from __future__ import annotations

import pytest
from support.disks import has_marker, image_info, write_marker
from support.lab import Lab as RelLab

from pulumi_vigo_vm.testing import ProviderError

pytestmark = pytest.mark.libvirt

USER_DATA = "#cloud-config\nhostname: faulty\n"

# The steps of a create of a running VM with user-data, in the order its plan runs them.
CREATE_STEPS = ["write-seed", "create-overlay", "define", "start"]


def _state(step: str) -> str:
    """Only the VM that must reach its start step runs (running blank guests are costly)."""
    return "running" if step == "start" else "stopped"


def _neighbour(rlab: RelLab) -> str:
    """A VM that exists before the faulty runs, with data on its disk."""
    rlab.vm("keep", state="stopped")
    rlab.up()
    write_marker(rlab.overlay("keep"))
    return str(rlab.domain("keep").UUIDString())


def _assert_neighbour_intact(rlab: RelLab, uuid: str) -> None:
    assert has_marker(rlab.overlay("keep")), "the neighbour's data was lost"
    assert rlab.domain("keep").UUIDString() == uuid
    assert rlab.power("keep") == "stopped"


def test_create_failing_before_each_step_rolls_back_and_the_next_up_converges(
    rlab: RelLab,
) -> None:
    """One run, four new VMs, each failing before a different step (4 scenarios)."""
    keep_uuid = _neighbour(rlab)
    for step in CREATE_STEPS:
        rlab.vm(step, state=_state(step), cloud_init_user_data=USER_DATA)
    # Every VM waits a moment at its first step (the define), so all four creates are under
    # way before the first failure stops the engine from starting new steps.
    faults = ",".join(
        ["sleep-before:define"] + [f"fail-before:{step}@{rlab.name(step)}" for step in CREATE_STEPS]
    )

    result = rlab.faulty(faults, raise_on_error=False).up()

    assert len(result.errors) == len(CREATE_STEPS)
    messages = "\n".join(str(error) for error in result.errors)
    for step in CREATE_STEPS:
        assert f"injected fault before {step} of {rlab.name(step)}" in messages
        # A failed create removes what it made: no domain, no overlay, no seed.
        assert rlab.domain(step) is None, step
        assert not rlab.overlay(step).exists(), step
        assert rlab.seeds(step) == [], step
    assert rlab.files() == {f"{rlab.name('keep')}.qcow2"}, "orphan or temporary file left"
    assert [r.name for r in rlab.harness().snapshot().program_resources()] == ["keep"]
    _assert_neighbour_intact(rlab, keep_uuid)

    result = rlab.up()

    assert result.ops() == {"keep": "same", **dict.fromkeys(CREATE_STEPS, "create")}
    for step in CREATE_STEPS:
        assert rlab.power(step) == ("running" if step == "start" else "stopped"), step
    _assert_neighbour_intact(rlab, keep_uuid)
    rlab.assert_converged()


def test_provider_killed_before_each_step_of_a_create_and_the_next_up_converges(
    rlab: RelLab,
) -> None:
    """The provider process dies (no reply, no rollback) before each step (4 scenarios)."""
    keep_uuid = _neighbour(rlab)
    for step in CREATE_STEPS:
        rlab.vm(step, state=_state(step), cloud_init_user_data=USER_DATA)
        with pytest.raises(ProviderError, match=r"provider process exited|Socket closed"):
            rlab.faulty(f"kill-before:{step}@{rlab.name(step)}").up()
        assert not any(n.startswith(".") for n in rlab.files()), f"temporary left ({step})"
        assert not rlab.harness().snapshot().resources.keys() - {
            r for r in rlab.harness().snapshot().resources if not r.endswith(f"::{step}")
        }, "a killed create must not be recorded"
        _assert_neighbour_intact(rlab, keep_uuid)

        # What the killed call made (seed, overlay, marked domain) is adopted, not duplicated.
        assert rlab.up().ops()[step] == "create", step
        assert rlab.power(step) == ("running" if step == "start" else "stopped"), step
        assert image_info(rlab.overlay(step))["backing-filename"] == str(rlab.base())
    rlab.assert_converged()
    _assert_neighbour_intact(rlab, keep_uuid)


def test_killed_create_then_vm_dropped_from_the_program_leaves_no_orphan(rlab: RelLab) -> None:
    """What a killed create left (its domain, marked with its claim, and the seed) is adopted
    by the rerun, so it goes with the VM when it is destroyed."""
    rlab.vm("a", state="stopped", cloud_init_user_data=USER_DATA)
    with pytest.raises(ProviderError):
        rlab.faulty("kill-before:create-overlay").up()
    assert rlab.domain("a") is not None and rlab.seeds("a") and not rlab.overlay("a").exists()

    rlab.up()
    rlab.harness().destroy()

    rlab.assert_clean()
