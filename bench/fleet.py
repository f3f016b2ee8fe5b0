"""``python -m bench.fleet [--n 50,200] [--hosts 4] [--reps 3]``: a fleet over several hosts.

N defined VMs (no boot) spread evenly over H ``qemu+ssh://`` hosts — H private sshd
instances on loopback ports, each a host of its own to the provider (its own URI, SSH
connection and libvirt connection; all lead to this machine's libvirtd). One ``up``
(create), one no-op ``preview`` and one ``destroy`` per repetition, through the engine
harness and ``tests/integration/fleet_program``. Per run it records:

* wall seconds, and per VM; the provider process's CPU seconds (its own, not qemu-img's)
  and this process's (the harness: the engine's side);
* SSH connections each sshd accepted during the run (the target: one per host per run);
* libvirt connection-level calls of the provider per connection (``bench/probe``):
  domain listings (``listAllDomains``: "in use" and "another writer" scans, which must be
  one per host per run, not one per VM) and lookups;
* the provider's peak RSS (VmHWM) at the end of the run.

With ``--data-disks`` every VM also attaches a data disk of its own (a small qcow2 made
beforehand, outside the timing), so each create and diff runs the "used writable
elsewhere" check against the host's domain listing.

The per-VM costs at the largest N against the smallest give the growth (target: at most 1.2x);
the marginal cost per VM between them is free of each run's fixed start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_vigo_vm.testing import EngineHarness

from .probes import calls_per_connection, probe_env
from .stats import cpu_self, median, timed
from .subject import MEMORY
from .world import BRIDGE, MEMORY_MIB, USER_DATA, World

FLEET_PROGRAM = Path(__file__).resolve().parent.parent / "tests" / "integration" / "fleet_program"
VERBS = ("create", "preview_noop", "delete")
LISTINGS = ("listAllDomains", "listDomainsID", "listDefinedDomains")


@dataclass
class RunSample:
    """One verb's run at one N."""

    wall_s: float
    provider_cpu_s: float
    harness_cpu_s: float
    ssh_connections: list[int]
    connections: int
    listings_per_connection: list[int]
    lookups: int
    provider_hwm_kib: int | None


@dataclass
class FleetResults:
    """Every sample, by (verb, N)."""

    hosts: int
    data_disks: bool = False
    samples: dict[tuple[str, int], list[RunSample]] = field(default_factory=dict)

    def add(self, verb: str, n: int, sample: RunSample) -> None:
        self.samples.setdefault((verb, n), []).append(sample)

    def to_json(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "data_disks": self.data_disks,
            "samples": {
                f"{v}|{n}": [s.__dict__ for s in ss] for (v, n), ss in self.samples.items()
            },
        }


@contextlib.contextmanager
def ssh_hosts(count: int) -> Iterator[list[Any]]:
    """``count`` private sshd instances on 127.0.0.1, each its own host to the provider."""
    from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts
    from pulumi_vigo_vm.testing.sshd import PrivateSshd

    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-sshd-", dir="/var/tmp"))
    servers: list[Any] = []
    try:
        for index in range(count):
            servers.append(PrivateSshd.start(workdir / f"host{index}"))
        yield servers
    finally:
        close_all_ssh_hosts()
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Fleet:
    """One stack of ``n`` defined VMs over ``servers`` in ``world``."""

    world: World
    servers: list[Any]
    n: int
    tag: str
    data_disks: bool = False

    @property
    def prefix(self) -> str:
        return self.world.prefix(self.tag).rstrip("-")

    def images_dir(self, host: int) -> Path:
        return self.world.images_dir(f"{self.tag}h{host}")

    def make_data_disks(self) -> None:
        """The data disk each VM attaches (fleet_program's ``test:dataDisks`` names)."""
        for index in range(self.n):
            host = index % len(self.servers)
            path = self.images_dir(host) / f"{self.prefix}-vm{index:04d}-data.qcow2"
            argv = ["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"]
            subprocess.run(argv, check=True, timeout=60)

    def harness(self, call_log: Path) -> EngineHarness:
        template = {
            "memory_mib": MEMORY_MIB,
            "vcpu": 1,
            "disk_path": str(self.world.base),
            "network_bridge": BRIDGE,
            "cloud_init_user_data": USER_DATA,
            "state": "defined",
            "shutdown_timeout_s": 0,
        }
        dirs = [str(self.images_dir(k)) for k in range(len(self.servers))]
        config = {
            "test:count": str(self.n),
            "test:prefix": self.prefix,
            "test:vm": json.dumps(template),
            "test:hosts": json.dumps([s.uri for s in self.servers]),
            "test:imagesDirs": json.dumps(dirs),
            "vigo:domainType": "qemu",
        }
        if self.data_disks:
            config["test:dataDisks"] = "1"
        return EngineHarness(
            FLEET_PROGRAM,
            state_file=self.world.root / f"state-{self.tag}.json",
            config=config,
            env=probe_env(call_log=call_log),
        )

    def measure(self, verb: str, run: Callable[[EngineHarness], Any]) -> RunSample:
        log = self.world.root / f"calls-{self.tag}-{verb}.log"
        log.unlink(missing_ok=True)
        before = [s.accepted_connections() for s in self.servers]
        cpu = cpu_self()
        wall, result = timed(lambda: run(self.harness(log)))
        harness_cpu = cpu_self() - cpu
        assert result.ok, result.errors[:2]
        calls = calls_per_connection(log)
        return RunSample(
            wall_s=wall,
            provider_cpu_s=MEMORY.take_cpu() or float("nan"),
            harness_cpu_s=harness_cpu,
            ssh_connections=[
                s.accepted_connections() - b for s, b in zip(self.servers, before, strict=True)
            ],
            connections=len(calls),
            listings_per_connection=sorted(sum(c[m] for m in LISTINGS) for c in calls.values()),
            lookups=sum(c["lookupByName"] + c["lookupByUUIDString"] for c in calls.values()),
            provider_hwm_kib=MEMORY.take(),
        )


def _preview_noop(harness: EngineHarness) -> Any:
    result = harness.preview()
    changed = {name: op for name, op in result.ops().items() if op != "same"}
    assert not changed, f"preview of an unchanged fleet planned {changed}"
    return result


def run_fleet(
    world: World, servers: list[Any], ns: list[int], reps: int, *, data_disks: bool = False
) -> FleetResults:
    """Create, no-op preview and destroy ``n`` VMs over ``servers``, ``reps`` times per N."""
    results = FleetResults(hosts=len(servers), data_disks=data_disks)
    for n in ns:
        for rep in range(reps):
            fleet = Fleet(world, servers, n, f"f{n}r{rep}", data_disks)
            try:
                if data_disks:
                    fleet.make_data_disks()
                for verb, run in (
                    ("create", lambda h: h.up()),
                    ("preview_noop", _preview_noop),
                    ("delete", lambda h: h.destroy()),
                ):
                    sample = fleet.measure(verb, run)
                    results.add(verb, n, sample)
                    print(
                        f"  fleet n={n} rep={rep} {verb:12} {sample.wall_s:7.2f}s "
                        f"ssh={sample.ssh_connections} listings={sample.listings_per_connection}",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                world.cleanup()
    return results


def render(results: FleetResults) -> str:
    """The fleet table, and the growth of the per-VM cost from the smallest N to the largest."""
    ns = sorted({n for _, n in results.samples})
    rows = [
        f"{results.hosts} qemu+ssh hosts, defined VMs spread evenly"
        + (", each with a data disk" if results.data_disks else "")
        + "; medians over repetitions",
        "",
        "| op | N | wall s | ms/VM | provider CPU ms/VM | harness CPU ms/VM | SSH conns per host "
        "| libvirt conns | domain listings per conn | lookups/VM | provider VmHWM MiB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|",
    ]
    for verb in VERBS:
        for n in ns:
            ss = results.samples.get((verb, n), [])
            if not ss:
                continue
            hwm = [s.provider_hwm_kib for s in ss if s.provider_hwm_kib]
            rows.append(
                f"| {verb} | {n} | {median(s.wall_s for s in ss):.2f} "
                f"| {median(s.wall_s for s in ss) / n * 1000:.1f} "
                f"| {median(s.provider_cpu_s for s in ss) / n * 1000:.1f} "
                f"| {median(s.harness_cpu_s for s in ss) / n * 1000:.1f} "
                f"| {ss[-1].ssh_connections} | {ss[-1].connections} "
                f"| {ss[-1].listings_per_connection} "
                f"| {median(s.lookups for s in ss) / n:.1f} "
                f"| {max(hwm) / 1024 if hwm else float('nan'):.1f} |"
            )
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        rows += [
            "",
            f"| op | per-VM growth N={lo}→{hi}: wall | provider CPU | harness CPU "
            f"| marginal wall ms/VM {lo}→{hi} | marginal / per-VM at {lo} |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for verb in VERBS:
            a, b = results.samples.get((verb, lo)), results.samples.get((verb, hi))
            if a and b:
                rows.append(_growth_row(verb, lo, a, hi, b))
    return "\n".join(rows)


def _growth_row(verb: str, lo: int, a: list[RunSample], hi: int, b: list[RunSample]) -> str:
    def per_vm(samples: list[RunSample], n: int, pick: Callable[[RunSample], float]) -> float:
        return median(pick(s) for s in samples) / n

    picks: list[Callable[[RunSample], float]] = [
        lambda s: s.wall_s,
        lambda s: s.provider_cpu_s,
        lambda s: s.harness_cpu_s,
    ]
    growths = [per_vm(b, hi, pick) / per_vm(a, lo, pick) for pick in picks]
    wall_lo, wall_hi = median(s.wall_s for s in a), median(s.wall_s for s in b)
    marginal = (wall_hi - wall_lo) / (hi - lo)
    cells = " | ".join(f"{g:.2f}x" for g in growths)
    return f"| {verb} | {cells} | {marginal * 1000:.1f} | {marginal / (wall_lo / lo):.2f}x |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--n", default="50,200", help="fleet sizes (comma-separated)")
    parser.add_argument("--hosts", type=int, default=4, help="qemu+ssh hosts (private sshds)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median taken)")
    parser.add_argument("--data-disks", action="store_true", help="a data disk per VM")
    parser.add_argument("--json", type=Path, help="write the raw samples here")
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.n.split(",")]
    with ssh_hosts(args.hosts) as servers, World.create() as world:
        results = run_fleet(world, servers, ns, args.reps, data_disks=args.data_disks)
    if args.json:
        args.json.write_text(json.dumps(results.to_json(), indent=1))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
