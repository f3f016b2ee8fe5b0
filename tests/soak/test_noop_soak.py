"""Issue 22: a no-change ``up`` of a small fleet failed once in 28 runs, its provider
process gone in the middle of a ``Check`` with an empty log.

The soak: a mixed fleet (a base image, VMs defined on it, a data disk each) is created
once, then goes through :data:`RUNS` no-change ``up``\\ s and previews alternately, each
with fresh provider processes, as ``pulumi up`` would start them. Every run must succeed
with nothing to do, and no provider may have left last words (a fault's stacks or an
uncaught exception, see :mod:`pulumi_vigo_vm.dynamic.lastwords`). CI runs it short; for the long
soak set ``VIGO_SOAK_RUNS`` (``VIGO_SOAK_RUNS=400 pytest tests/soak``), see
docs/safety/soak.md.
"""

from __future__ import annotations

import os
import time

import pytest

from .fleet import SoakFleet

pytestmark = pytest.mark.libvirt

RUNS = int(os.environ.get("VIGO_SOAK_RUNS", "40"))
RUN_BUDGET_S = 60.0
"""Generous: one run of this fleet takes about a second on an idle machine."""


def test_no_change_ups_and_previews_of_a_mixed_fleet_all_succeed(fleet: SoakFleet) -> None:
    created = fleet.harness().up()
    assert created.ok, created.summary()
    assert created.counts() == {"create": 1 + 2 * fleet.count}

    failures: list[str] = []
    for run in range(RUNS):
        harness = fleet.harness()
        started = time.monotonic()
        result = harness.preview() if run % 2 else harness.up(preview_first=True)
        took = time.monotonic() - started
        changed = [step.describe() for step in result.steps if step.op != "same"]
        if not result.ok or changed:
            failures.append(f"run {run} ({result.verb}): {result.errors} {changed}")
        assert took < RUN_BUDGET_S, f"run {run} took {took:.0f}s"

    assert not failures, "\n".join(failures)
    assert fleet.last_words() == {}, "a provider process died or lost a thread"
    assert fleet.harness().destroy().ok
    assert fleet.lab.domains() == set()
    assert [p for p in fleet.lab.images_dir.rglob("*") if not p.is_dir()] == []
