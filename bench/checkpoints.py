"""``python -m bench.checkpoints [--n 1000] [--vms 100] [--reps 3]``: a no-op ``up`` against
the preview of the same stack.

A no-op ``up`` and a preview of an unchanged stack do the same work (the program, one
``Check`` and one ``Diff`` per resource) except the checkpoint: the engine elides the write
of a step that changed nothing (``sameSnapshotMutation.mustWrite``) and writes the
snapshot once at the end, so the ``up`` should cost about what the preview costs (target:
ratio ≈1x; a checkpoint rewritten after every step makes it O(N²)). The preview is the
baseline, measured on the same stack in the same run, the two alternating who goes first.

Two stacks, each created once (timed), then ``--reps`` x (no-op preview, no-op up), then
destroyed (timed):

* ``noop``: ``--n`` do-nothing dynamic resources (:mod:`bench.noop`, ``--payload`` bytes
  of input each): the engine's side alone, no provider work;
* ``vigovm``: ``--vms`` VigoVm, ``state="defined"`` (no boot) on the local libvirtd
  (``tests/integration/fleet_program``).

Columns: wall seconds (medians), this process's CPU (the harness, i.e. the engine's side),
and the checkpoint's size after the create.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_vigo_vm.testing import EngineHarness, RunResult

from .fleet import FLEET_PROGRAM
from .noop import noop_program
from .stats import cpu_self, median, timed
from .world import BRIDGE, MEMORY_MIB, USER_DATA, World

ROOT = Path(__file__).resolve().parent.parent
VERBS = ("create", "preview_noop", "up_noop", "destroy")


@dataclass
class StackSamples:
    """Wall and harness CPU seconds per verb of one stack, and its checkpoint's size."""

    name: str
    n: int
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    checkpoint_bytes: int = 0

    def measure(self, verb: str, run: Callable[[], RunResult]) -> RunResult:
        cpu = cpu_self()
        wall, result = timed(run)
        self.wall.setdefault(verb, []).append(wall)
        self.cpu.setdefault(verb, []).append(cpu_self() - cpu)
        assert result.ok, result.errors[:2]
        print(f"  {self.name} n={self.n} {verb:12} {wall:8.2f}s", file=sys.stderr, flush=True)
        return result


def _unchanged(result: RunResult) -> RunResult:
    changed = {name: op for name, op in result.ops().items() if op != "same"}
    assert not changed, f"an unchanged stack planned {changed}"
    return result


def cycle(name: str, n: int, harness: Callable[[], EngineHarness], reps: int) -> StackSamples:
    """Create, ``reps`` x (no-op preview, no-op up) alternating who goes first, destroy."""
    samples = StackSamples(name, n)
    samples.measure("create", lambda: harness().up())
    samples.checkpoint_bytes = harness().state_file.stat().st_size
    try:
        for rep in range(reps):
            pair = [
                ("preview_noop", lambda: _unchanged(harness().preview())),
                ("up_noop", lambda: _unchanged(harness().up())),
            ]
            for verb, run in pair if rep % 2 == 0 else reversed(pair):
                samples.measure(verb, run)
    finally:
        samples.measure("destroy", lambda: harness().destroy())
    return samples


def noop_stack(root: Path, n: int, payload: int) -> Callable[[], EngineHarness]:
    """The harness of ``n`` :class:`bench.noop.Noop` resources (``bench`` importable by the
    program and provider processes through ``PYTHONPATH``)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    config = {"test:count": str(n), "test:payload": str(payload)}
    return lambda: EngineHarness(
        noop_program, state_file=root / "state-noop.json", config=config, env={"PYTHONPATH": path}
    )


def vigovm_stack(world: World, n: int) -> Callable[[], EngineHarness]:
    """The harness of ``n`` defined VigoVm in ``world`` (local libvirtd)."""
    template = {
        "memory_mib": MEMORY_MIB,
        "vcpu": 1,
        "disk_path": str(world.base),
        "network_bridge": BRIDGE,
        "cloud_init_user_data": USER_DATA,
        "state": "defined",
        "shutdown_timeout_s": 0,
    }
    config = {
        "test:count": str(n),
        "test:prefix": world.prefix("ckpt").rstrip("-"),
        "test:vm": json.dumps(template),
        "vigo:uri": world.uri,
        "vigo:domainType": "qemu",
        "vigo:imagesDir": str(world.images_dir("ckpt")),
    }
    state = world.root / "state-vigovm.json"
    return lambda: EngineHarness(FLEET_PROGRAM, state_file=state, config=config)


def render(stacks: list[StackSamples]) -> str:
    """One row per stack: medians, and the no-op up against its preview."""
    rows = [
        "| stack | N | create s | no-op preview s | no-op up s | up/preview wall "
        "| up/preview harness CPU | destroy s | checkpoint KiB (B/resource) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stacks:
        wall = {verb: median(s.wall.get(verb, [])) for verb in VERBS}
        cpu = {verb: median(s.cpu.get(verb, [])) for verb in VERBS}
        rows.append(
            f"| {s.name} | {s.n} | {wall['create']:.2f} | {wall['preview_noop']:.2f} "
            f"| {wall['up_noop']:.2f} | {wall['up_noop'] / wall['preview_noop']:.2f}x "
            f"| {cpu['up_noop'] / cpu['preview_noop']:.2f}x | {wall['destroy']:.2f} "
            f"| {s.checkpoint_bytes / 1024:.0f} ({s.checkpoint_bytes // s.n}) |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkpoints", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="do-nothing resources")
    parser.add_argument("--payload", type=int, default=2048, help="input bytes per resource")
    parser.add_argument("--vms", type=int, default=100, help="defined VigoVm (0: none)")
    parser.add_argument("--reps", type=int, default=3, help="no-op preview/up pairs")
    parser.add_argument("--json", type=Path, help="write the raw samples here")
    args = parser.parse_args(argv)
    stacks: list[StackSamples] = []
    with World.create() as world:
        noop = noop_stack(world.root, args.n, args.payload)
        stacks.append(cycle("noop", args.n, noop, args.reps))
        if args.vms:
            stacks.append(cycle("vigovm", args.vms, vigovm_stack(world, args.vms), args.reps))
        # Before the world's cleanup, which a libvirtd restarted meanwhile may fail.
        if args.json:
            raw: list[dict[str, Any]] = [s.__dict__ for s in stacks]
            args.json.write_text(json.dumps(raw, indent=1))
        print(render(stacks), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
