"""``python -m bench.waits [--n 1,8,20] [--wait-s 10] [--reps 3] [--caps]``: parallel waits.

N VMs are created in one ``up``, each with ``wait_for="ip"`` from ``address_source="arp"``.
Their disks are blank, so no guest ever boots; instead this bench plays the guest: a thread
watches the run's domains and, ``--wait-s`` seconds after each one started, writes a
permanent entry for its MAC into the host's neighbour table on the bench bridge
(``ip neigh replace 198.18.250.x lladdr <mac> dev vigobr0 nud permanent``: a table entry,
no packet is sent). Each create then waits about that long and succeeds, which isolates
what this bench is about: how many waits run at once. (Waits that time out would not do:
a failed step stops the engine, and the harness, from starting new ones, so a capped run
would end after its first round.) The entries are removed after each up.

The baseline, measured in the same run, is N=1. A provider limited to four RPCs at a time
would take about ceil(N/4) rounds of waits; the SDK's program-side default executor,
``min(32, cpus + 4)`` threads, would cap it next. The engine harness runs with
``parallel=N`` (``pulumi up --parallel N``); ``--parallel P`` below N costs ceil(N/P)
rounds, and it is the user's to set. Each N is also run without a wait (``wait_for="none"``,
the same VMs started): that wall time is what the creates and starts cost on this machine,
and the rest, the waiting part, shows the parallelism of the waits alone.

``--caps`` also runs the largest N once per cap with that cap in force, so each one's cost is
seen alone: the dynamic provider server's four threads (the package's widening left out,
``bench/probe``) and the program's executor (asyncio's default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from pulumi_vigo_vm.testing import EngineHarness

from .probes import probe_env
from .subject import PROGRAM
from .world import BRIDGE, LOCAL_URI, World

NEIGHBOURS = "198.18.250.{}"
"""The addresses the bench's guests "get" (198.18.0.0/15, on the bench bridge only)."""


@dataclass(frozen=True)
class Cap:
    """One limit put back on an up: the provider's or the program's threads."""

    label: str
    cap: str | None = None  # bench/probe's VIGO_BENCH_CAP


CAPS = (
    Cap("provider server: 4 threads (not widened)", cap="provider"),
    Cap("program executor: asyncio default (not widened)", cap="program"),
)


@contextlib.contextmanager
def _guests_answer(world: World, tag: str, after_s: float) -> Iterator[None]:
    """While the block runs, give each of ``tag``'s domains a neighbour entry ``after_s``
    seconds after it is first seen running, and keep it there: the kernel flushes a
    device's entries, permanent ones too, when its address changes, and a bridge takes the
    lowest MAC of its ports, so each tap added or removed may wipe them. Every entry is
    removed afterwards."""
    stop = threading.Event()
    answers: dict[str, tuple[str, str]] = {}  # domain -> (address, MAC)

    def watch() -> None:
        started: dict[str, float] = {}
        while not stop.wait(0.2):
            for dom in world.conn.listAllDomains(0):
                name = dom.name()
                if not name.startswith(world.prefix(tag)) or not dom.isActive():
                    continue
                now = time.monotonic()
                if now - started.setdefault(name, now) >= after_s and name not in answers:
                    mac = ET.fromstring(dom.XMLDesc()).find("devices/interface/mac")
                    assert mac is not None, name
                    answers[name] = (NEIGHBOURS.format(10 + len(answers)), str(mac.get("address")))
            with open("/proc/net/arp") as table:
                present = {line.split()[0] for line in table.read().splitlines()[1:] if line}
            for address, mac in answers.values():
                if address not in present:
                    _neigh("replace", address, mac)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        for address, _mac in answers.values():
            _neigh("del", address)


def _neigh(verb: str, address: str, mac: str | None = None) -> None:
    """``ip neigh <verb>``; a ``del`` of an entry already gone is fine (the kernel flushes a
    bridge's entries when it goes down)."""
    argv = ["ip", "neigh", verb, address]
    if mac is not None:
        argv += ["lladdr", mac, "nud", "permanent"]
    subprocess.run([*argv, "dev", BRIDGE], check=verb != "del", timeout=10, capture_output=True)


def _one_up(world: World, n: int, wait_s: int, rep: int, limit: Cap | None = None) -> float:
    """Seconds one up of ``n`` running VMs takes, each waiting ``wait_s`` (0: no wait)."""
    tag = f"w{n}s{wait_s}r{rep}{CAPS.index(limit) if limit else ''}"
    vms = world.declarations(tag, n, "running")
    for declared in vms.values():
        declared.update(cloud_init_user_data=None)
        if wait_s:
            declared.update(wait_for="ip", address_source="arp", wait_timeout_s=wait_s + 120)
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
        env=probe_env(cap=limit.cap if limit else None),
    )
    try:
        with _guests_answer(world, tag, wait_s):
            started = time.monotonic()
            harness.up()  # raises on any failed step
            return time.monotonic() - started
    finally:
        world.cleanup(tag)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__)
    parser.add_argument("--n", default="1,8,20", help="VMs waiting in one up (comma-separated)")
    parser.add_argument("--wait-s", type=int, default=10, help="how long each VM waits")
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
    print(f"each VM waits {args.wait_s} s after its start; median of {args.reps}")
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
