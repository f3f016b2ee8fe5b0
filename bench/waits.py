"""``python -m bench.waits [--n 1,8,20] [--wait-s 10] [--reps 3]``: parallel waits.

N VMs are created in one ``up``, each with ``wait_for="ready"`` and ``wait_timeout_s=T``.
Their disks are blank, so no guest ever becomes ready: every create waits exactly its T
seconds and fails with the timeout error, which isolates the cost this bench is about — how
many waits run at once. The baseline, measured in the same run, is N=1. A provider limited
to four RPCs at a time would take about ceil(N/4)·T; the SDK's program-side default
executor, min(32, cpus + 4) threads, would cap it next. The engine harness runs with
``parallel=N`` (``pulumi up --parallel N``). Prints one row per N: wall seconds (median of
``--reps``), the ratio to N=1 and what four RPCs at a time would give.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

from pulumi_vigo_vm.testing import EngineHarness

from .subject import PROGRAM
from .world import LOCAL_URI, World


def _one_up(world: World, n: int, wait_s: int, rep: int) -> float:
    tag = f"w{n}r{rep}"
    vms = world.declarations(tag, n, "running")
    for declared in vms.values():
        declared.update(wait_for="ready", wait_timeout_s=wait_s, cloud_init_user_data=None)
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
    )
    started = time.monotonic()
    result = harness.up()
    elapsed = time.monotonic() - started
    timeouts = sum("not within" in str(error) for error in result.errors)
    if timeouts != n:
        raise SystemExit(f"expected {n} wait timeouts, got {timeouts}: {result.errors[:2]}")
    world.cleanup(tag)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__)
    parser.add_argument("--n", default="1,8,20", help="VMs waiting in one up (comma-separated)")
    parser.add_argument("--wait-s", type=int, default=10, help="each VM's wait_timeout_s")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median taken)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.n.split(",")]
    if 1 not in sizes:
        sizes.insert(0, 1)
    medians: dict[int, float] = {}
    with World.create() as world:
        for n in sizes:
            runs = [_one_up(world, n, args.wait_s, rep) for rep in range(args.reps)]
            medians[n] = statistics.median(runs)
            print(f"N={n}: {', '.join(f'{r:.1f}' for r in runs)} s", file=sys.stderr)
    baseline = medians[1]
    print(f"wait_timeout_s={args.wait_s}, median of {args.reps}")
    print("| N | wall s | ratio to N=1 | four RPCs at a time would take |")
    print("|---|---|---|---|")
    for n in sizes:
        rounds = math.ceil(n / 4) * baseline
        print(f"| {n} | {medians[n]:.1f} | {medians[n] / baseline:.2f} | ≈{rounds:.0f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
