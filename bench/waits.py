"""``python -m bench.waits [--n 1,8,20] [--wait-s 10] [--reps 3] [--caps]``: parallel waits.

N VMs are created in one ``up``, each with ``wait_for="ready"`` and ``wait_timeout_s=T``.
Their disks are blank, so no guest ever becomes ready: every create waits exactly its T
seconds and fails with the timeout error, which isolates the cost this bench is about — how
many waits run at once. The baseline, measured in the same run, is N=1. A provider limited
to four RPCs at a time would take about ceil(N/4)·T; the SDK's program-side default
executor, min(32, cpus + 4) threads, would cap it next. The engine harness runs with
``parallel=N`` (``pulumi up --parallel N``). Prints one row per N: wall seconds (median of
``--reps``), the ratio to N=1 and what four RPCs at a time would give.

Each N is also run once without a wait (``wait_for="none"``, same VMs started): its wall time
is what the creates and starts cost on this machine, and the rest, wall minus that, is the
waiting part, whose ratio to N=1's shows the parallelism of the waits alone.

``--caps`` also runs the largest N once per cap with that cap in force, so each one's cost is
seen alone: the dynamic provider server's four threads (the package's widening left out,
``bench/probe``) and the program's executor (asyncio's default, ``min(32, cpus + 4)``
threads). The third cap, the engine's ``--parallel P``, cannot be timed this way: waits that
time out are failed steps, and after a failed step the engine (and the harness) starts no
new one, so the run ends after the first P waits. It costs ``ceil(N / P)`` rounds of waits,
and it is the user's to set.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass

from pulumi_vigo_vm.testing import EngineHarness

from .probes import probe_env
from .subject import PROGRAM
from .world import LOCAL_URI, World


@dataclass(frozen=True)
class Cap:
    """One limit put back on an up: the provider's or the program's threads."""

    label: str
    cap: str | None = None  # bench/probe's VIGO_BENCH_CAP


CAPS = (
    Cap("provider server: 4 threads (not widened)", cap="provider"),
    Cap("program executor: asyncio default (not widened)", cap="program"),
)


def _one_up(world: World, n: int, wait_s: int, rep: int, limit: Cap | None = None) -> float:
    """Seconds one up of ``n`` running VMs takes, each waiting ``wait_s`` (0: no wait)."""
    tag = f"w{n}s{wait_s}r{rep}{CAPS.index(limit) if limit else ''}"
    vms = world.declarations(tag, n, "running")
    for declared in vms.values():
        declared.update(cloud_init_user_data=None)
        if wait_s:
            declared.update(wait_for="ready", wait_timeout_s=wait_s)
    config = {
        "test:vms": json.dumps(
            {name: {k: v for k, v in d.items() if v is not None} for name, d in vms.items()}
        ),
        "vigo:uri": LOCAL_URI,
        "vigo:domainType": "qemu",
        "vigo:imagesDir": str(world.images_dir(tag)),
    }
    harness = EngineHarness(
        PROGRAM,
        state_file=world.root / f"state-{tag}.json",
        config=config,
        parallel=max(n, 1),
        raise_on_error=False,
        env=probe_env(cap=limit.cap if limit else None),
    )
    started = time.monotonic()
    result = harness.up()
    elapsed = time.monotonic() - started
    timeouts = sum("not within" in str(error) for error in result.errors)
    if timeouts != (n if wait_s else 0) or (not wait_s and result.errors):
        kinds = [type(e).__name__ + ": " + str(e)[-160:] for e in result.errors]
        raise SystemExit(f"expected {n} wait timeouts, got {timeouts}: {kinds}")
    world.cleanup(tag)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__)
    parser.add_argument("--n", default="1,8,20", help="VMs waiting in one up (comma-separated)")
    parser.add_argument("--wait-s", type=int, default=10, help="each VM's wait_timeout_s")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median taken)")
    parser.add_argument("--caps", action="store_true", help="largest N under each cap too")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.n.split(",")]
    if 1 not in sizes:
        sizes.insert(0, 1)
    medians: dict[int, float] = {}
    starts: dict[int, float] = {}
    with World.create() as world:
        for n in sizes:
            runs = [_one_up(world, n, args.wait_s, rep) for rep in range(args.reps)]
            medians[n] = statistics.median(runs)
            starts[n] = statistics.median(_one_up(world, n, 0, rep) for rep in range(args.reps))
            print(f"N={n}: {', '.join(f'{r:.1f}' for r in runs)} s", file=sys.stderr)
        capped = {c: _one_up(world, sizes[-1], args.wait_s, 0, c) for c in CAPS if args.caps}
    baseline, waiting = medians[1], medians[1] - starts[1]
    print(f"wait_timeout_s={args.wait_s}, median of {args.reps}")
    print(
        "| N | wall s | ratio to N=1 | four RPCs at a time would take | same up, no wait s "
        "| waiting part s | its ratio to N=1 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        rounds = math.ceil(n / 4) * baseline
        part = medians[n] - starts[n]
        print(
            f"| {n} | {medians[n]:.1f} | {medians[n] / baseline:.2f} | ≈{rounds:.0f} s "
            f"| {starts[n]:.1f} | {part:.1f} | {part / waiting:.2f} |"
        )
    for limit, wall in capped.items():
        part = wall - starts[sizes[-1]]
        print(
            f"| {sizes[-1]}, {limit.label} | {wall:.1f} | {wall / baseline:.2f} | "
            f"| | {part:.1f} | {part / waiting:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
