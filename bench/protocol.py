"""``python -m bench.protocol [--n 30,300] [--reps 3] [--transports local,ssh] [--profile]``:
what the engine pays for the provider's own work, per verb, against the floor (issue 24).

Three actors take N defined VMs (one base, a seed each) through the same verbs, in one run,
alternating who goes first in each repetition (the machine is shared: medians of ``reps``):

* **vigo** — a stack of N ``VigoVm`` through the engine harness: a program process and a
  real ``python -m pulumi.dynamic`` process spoken to over gRPC, as the engine does;
* **null** — the same stack of a do-nothing dynamic resource with the same inputs
  (``bench/null_program``) through the same harness: process starts, gRPC, the props'
  (de)serialisation, the provider's unpickling and the engine's share, with no work;
* **floor** — ``bench/floor.py``: bare libvirt-python and qemu-img doing the same host
  work in one process, 4 VMs at a time;
* **base** (with ``--baseline DIR``) — the vigo stack running another source tree of the
  package (say, main's: ``git archive main | tar -x -C DIR``), so a change is measured
  against what it changes in the same run, under the same load.

The provider's cost per VM is (vigo - null) / N; the ratio is that over the floor's per VM.
Verbs: ``create`` (``up`` of VMs with ``state="defined"`` and a seed), ``preview`` (no-op:
Check + Diff of the unchanged stack), ``refresh`` (Read of each VM; floor: lookup,
definition, state) and ``delete`` (``destroy``; no program runs, the same for null).

``--profile``: after the timed runs, one more vigo cycle per transport at the largest N
with every RPC of the provider process under cProfile (``bench/probe``), printed per RPC:
ms per call and the functions the time goes to; and per verb, the SFTP requests per VM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libvirt

from pulumi_vigo_vm.testing import EngineHarness
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

from .floor import Floor
from .probes import probe_env
from .stats import median, timed
from .subject import PROGRAM
from .world import LOCAL_URI, World

T = TypeVar("T")
NULL_PROGRAM = Path(__file__).resolve().parent / "null_program"
VERBS = ("create", "preview", "refresh", "delete")
HARNESS_VERB = {"create": "up", "preview": "preview", "refresh": "refresh", "delete": "destroy"}
TARGETS = {"create": 1.1, "preview": 1.0, "delete": 2.0}
"""Issue 24: the provider's cost per VM at most this many times the floor's."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Stack:
    """One harness stack of ``n`` resources named ``bench-<tag>-*`` in ``world``."""

    world: World
    program: Path
    tag: str
    n: int
    env: dict[str, str] = field(default_factory=dict)

    def harness(self) -> EngineHarness:
        config = {
            "test:vms": json.dumps(self.world.declarations(self.tag, self.n, "defined")),
            "vigo:uri": self.world.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.world.images_dir(self.tag)),
        }
        state = self.world.root / f"state-{self.tag}.json"
        return EngineHarness(self.program, state_file=state, config=config, env=self.env)

    def verbs(self) -> dict[str, Callable[[], None]]:
        def run(verb: str) -> None:
            result = getattr(self.harness(), HARNESS_VERB[verb])()
            assert result.ok, result.errors[:2]
            if verb == "preview":
                changed = {k: op for k, op in result.ops().items() if op != "same"}
                assert not changed, f"preview of an unchanged stack planned {changed}"
            if verb == "refresh":
                # a refresh that dropped a VM (reported it gone) would not be a no-op
                assert len(self.harness().snapshot().resources) >= self.n, "refresh lost VMs"

        return {verb: (lambda v=verb: run(v)) for verb in VERBS}


def _floor_verbs(world: World, tag: str, n: int) -> dict[str, Callable[[], None]]:
    floor = Floor(world.uri, str(world.images_dir(tag)), str(world.base), world.names(tag, n))
    return {
        "create": lambda: floor.create(start=False),
        "preview": floor.observe,
        "refresh": floor.read,
        "delete": floor.delete,
    }


Samples = dict[tuple[str, str, str, int], list[float]]  # (transport, verb, who, n) -> seconds

PROVIDER_CPU: list[float] = []
"""CPU seconds of each provider process the harness closed (its own and its reaped
children's, qemu-img), read just before it ends. CPU, unlike wall time, hardly moves with
the load colleagues put on a shared machine: the ``*-cpu`` rows compare the provider's own
work (vigo - null) with the floor's (this process and its qemu-img children)."""


def _record_provider_cpu() -> None:
    original = DynamicProviderHost.close

    def close(self: DynamicProviderHost) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
                PROVIDER_CPU.append(ticks / os.sysconf("SC_CLK_TCK"))
            except OSError:
                pass
        original(self)

    DynamicProviderHost.close = close  # type: ignore[method-assign]


_record_provider_cpu()


def _own_cpu() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def _cpu_of(who: str, fn: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn``: the provider processes' CPU for a harness stack, this
    process's and its children's for the floor."""
    PROVIDER_CPU.clear()
    before = _own_cpu()
    seconds, _ = timed(fn)
    cpu = _own_cpu() - before if who == "floor" else sum(PROVIDER_CPU)
    return seconds, cpu


def measure(
    world: World, transport: str, n: int, reps: int, samples: Samples, baseline: Path | None
) -> None:
    """``reps`` rounds of every actor; a round that fails (say, a colleague's test restarted
    libvirtd meanwhile) is logged and tried again, up to ``reps`` more times in all.
    ``baseline``: a source tree of another version of the package, measured as one more
    actor (**base**: the vigo stack with that tree first on the processes' ``PYTHONPATH``)."""
    actors: list[tuple[str, Callable[[str], dict[str, Callable[[], None]]]]] = [
        ("vigo", lambda tag: Stack(world, PROGRAM, tag, n).verbs()),
        ("null", lambda tag: Stack(world, NULL_PROGRAM, tag, n).verbs()),
        ("floor", lambda tag: _floor_verbs(world, tag, n)),
    ]
    if baseline is not None:
        path = os.pathsep.join(p for p in (str(baseline), os.environ.get("PYTHONPATH", "")) if p)
        env = {"PYTHONPATH": path}
        actors.append(("base", lambda tag: Stack(world, PROGRAM, tag, n, env).verbs()))
    rounds = [(rep, who, make) for rep in range(reps) for who, make in _rotated(actors, rep)]
    retries = reps
    while rounds:
        rep, who, make = rounds.pop(0)
        tag = f"{who[0]}{transport[0]}{n}"
        (world.root / f"state-{tag}.json").unlink(missing_ok=True)
        try:
            taken = []
            for verb, fn in make(tag).items():
                seconds, cpu = _cpu_of(who, fn)
                taken.append(((transport, verb, who, n), seconds))
                taken.append(((transport, verb, f"{who}-cpu", n), cpu))
                log(f"  {transport:5} n={n:<4} {who:5} {verb:8} {seconds:8.3f}s")
            for key, seconds in taken:
                samples.setdefault(key, []).append(seconds)
        except Exception as exc:
            log(f"  {transport} n={n} {who} rep {rep} FAILED ({retries} retries left): {exc!r}")
            if retries == 0:
                raise
            retries -= 1
            rounds.append((rep, who, make))
        finally:
            _cleanup(world, tag)


def _rotated(actors: list[T], rep: int) -> list[T]:
    """Who goes first changes each repetition."""
    return actors[rep % len(actors) :] + actors[: rep % len(actors)]


def _cleanup(world: World, tag: str) -> None:
    """Remove the round's domains and files, waiting for libvirtd if it is restarting."""
    for attempt in range(30):
        try:
            world.cleanup(tag)
            return
        except libvirt.libvirtError:
            if attempt == 29:
                raise
            time.sleep(2)


def render(samples: Samples, transports: list[str], ns: list[int], who: str = "vigo") -> str:
    def per_vm(transport: str, verb: str, who: str, n: int) -> float:
        return median(samples.get((transport, verb, who, n), [])) / n

    rows = [
        f"| transport | verb | N | {who} ms/VM | null ms/VM | provider ms/VM ({who}-null) "
        "| floor ms/VM | ratio | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in transports:
        for verb in VERBS:
            for n in ns:
                vigo, null = per_vm(transport, verb, who, n), per_vm(transport, verb, "null", n)
                floor = per_vm(transport, verb, "floor", n)
                own = vigo - null
                target = TARGETS.get(verb)
                rows.append(
                    f"| {transport} | {verb} | {n} | {vigo * 1e3:.1f} | {null * 1e3:.1f} "
                    f"| {own * 1e3:.1f} | {floor * 1e3:.1f} | {own / floor:.2f}x "
                    f"| {f'≤ {target}x' if target else '—'} |"
                )
    if len(ns) >= 2:
        rows += ["", *_marginal(samples, transports, ns[0], ns[-1], who)]
    if any(key[2].endswith("-cpu") for key in samples):
        rows += ["", *_cpu(samples, transports, ns, who)]
    return "\n".join(rows)


def _cpu(samples: Samples, transports: list[str], ns: list[int], who: str) -> list[str]:
    rows = [
        f"| transport | verb | N | provider CPU ms/VM ({who}-null) | floor CPU ms/VM | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]

    def per_vm(transport: str, verb: str, who: str, n: int) -> float:
        return median(samples.get((transport, verb, f"{who}-cpu", n), [])) / n

    for transport in transports:
        for verb in VERBS:
            for n in ns:
                own = per_vm(transport, verb, who, n) - per_vm(transport, verb, "null", n)
                floor = per_vm(transport, verb, "floor", n)
                rows.append(
                    f"| {transport} | {verb} | {n} | {own * 1e3:.1f} | {floor * 1e3:.1f} "
                    f"| {own / floor:.2f}x |"
                )
    return rows


def _marginal(samples: Samples, transports: list[str], lo: int, hi: int, who: str) -> list[str]:
    """The cost of one more VM, (T(hi) - T(lo)) / (hi - lo) per actor: free of every fixed
    cost, the package's import in the program and provider processes included (the null
    stack imports none of it), and the growth of the per-VM cost from ``lo`` to ``hi``."""

    def marginal(transport: str, verb: str, who: str) -> float:
        a = median(samples.get((transport, verb, who, lo), []))
        b = median(samples.get((transport, verb, who, hi), []))
        return (b - a) / (hi - lo)

    rows = [
        f"| transport | verb | {who} marginal ms/VM {lo}→{hi} | null marginal "
        "| provider marginal | floor marginal | ratio | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in transports:
        for verb in VERBS:
            vigo, null = marginal(transport, verb, who), marginal(transport, verb, "null")
            floor = marginal(transport, verb, "floor")
            target = TARGETS.get(verb)
            rows.append(
                f"| {transport} | {verb} | {vigo * 1e3:.1f} | {null * 1e3:.1f} "
                f"| {(vigo - null) * 1e3:.1f} | {floor * 1e3:.2f} | {(vigo - null) / floor:.2f}x "
                f"| {f'≤ {target}x' if target else '—'} |"
            )
    return rows


def profile(world: World, transport: str, n: int, top: int = 16) -> str:
    """One vigo cycle with every provider RPC profiled; per RPC: ms per call, the
    package's functions by cumulative time, then the top functions by own time."""
    out = [f"### provider RPCs, {transport}, N={n} (cProfile per RPC, inside the provider)"]
    with tempfile.TemporaryDirectory(prefix="bench-prof-", dir="/var/tmp") as directory:
        tag = f"p{transport[0]}{n}"
        env = probe_env(profile=Path(directory))
        stack = Stack(world, PROGRAM, tag, n, env)
        try:
            for verb, fn in stack.verbs().items():
                fn()
                out += _profiles(Path(directory), verb, top)
                out += _sftp_requests(Path(directory), verb, n)
                for path in Path(directory).iterdir():
                    path.unlink()
        finally:
            _cleanup(world, tag)
    return "\n".join(out)


def _profiles(directory: Path, verb: str, top: int) -> list[str]:
    out: list[str] = []
    walls: dict[str, list[float]] = {}
    for path in directory.glob("*-walls.json"):
        for rpc, values in json.loads(path.read_text()).items():
            walls.setdefault(rpc, []).extend(values)
    for rpc, values in sorted(walls.items()):
        if rpc == "Configure":
            continue
        stats = pstats.Stats(*map(str, directory.glob(f"*-{rpc}.prof")))
        calls = len(values)
        out.append(
            f"\n#### {verb}: {rpc} x{calls}, median {median(values) * 1e3:.1f} ms wall, "
            f"{stats.total_tt / calls * 1e3:.1f} ms profiled CPU+wait per call"  # type: ignore[attr-defined]
        )
        out.append("| ms/call cumulative | ms/call own | calls/RPC | function |")
        out.append("|---:|---:|---:|---|")
        entries = list(stats.stats.items())  # type: ignore[attr-defined]
        ours = [e for e in entries if "pulumi_vigo_vm/" in e[0][0]]
        by_own = sorted(entries, key=lambda item: item[1][2], reverse=True)[: top // 2]
        by_cumulative = sorted(ours, key=lambda item: item[1][3], reverse=True)[:top]
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in by_cumulative + by_own:
            out.append(
                f"| {ct / calls * 1e3:.2f} | {tt / calls * 1e3:.2f} | {nc / calls:.1f} "
                f"| {_short(filename)}:{line} {name} |"
            )
    return out


def _tables(samples: Samples, transports: list[str], ns: list[int]) -> str:
    """The tables of vigo and, when measured, of the baseline (base)."""
    whos = ["vigo"] + (["base"] if any(key[2] == "base" for key in samples) else [])
    return "\n\n".join(f"## {who}\n\n{render(samples, transports, ns, who)}" for who in whos)


def _sftp_requests(directory: Path, verb: str, n: int) -> list[str]:
    """The SFTP requests the verb's provider processes sent, per VM, by type (none locally)."""
    counts: dict[str, int] = {}
    for path in directory.glob("*-sftp.json"):
        for kind, count in json.loads(path.read_text()).items():
            counts[kind] = counts.get(kind, 0) + count
    if not counts:
        return []
    kinds = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(counts.items()))
    return [f"\n{verb}: SFTP requests per VM: {sum(counts.values()) / n:.2f} ({kinds})"]


def _short(filename: str) -> str:
    for marker in ("pulumi_vigo_vm/", "site-packages/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


@contextlib.contextmanager
def _world(transport: str) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        uri = LOCAL_URI
        if transport == "ssh":
            from .__main__ import _sshd

            uri = stack.enter_context(_sshd()).uri
        yield stack.enter_context(World.create(uri))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.protocol", description=__doc__)
    parser.add_argument("--n", default="30,300", help="stack sizes (comma-separated)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median taken)")
    parser.add_argument("--transports", default="local,ssh")
    parser.add_argument("--profile", action="store_true", help="also profile the provider RPCs")
    parser.add_argument("--profile-n", type=int, default=30, help="N of the profiled cycle")
    parser.add_argument("--json", type=Path, help="write the raw samples here")
    parser.add_argument("--report", type=Path, help="only print the table of a saved --json")
    parser.add_argument(
        "--baseline", type=Path, help="also measure this source tree of the package (base)"
    )
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.n.split(",")]
    transports = args.transports.split(",")
    samples: Samples = {}
    if args.report:
        for key, values in json.loads(args.report.read_text()).items():
            transport, verb, who, n = key.split("|")
            samples[(transport, verb, who, int(n))] = values
        seen = sorted({k[0] for k in samples}, key=["local", "ssh"].index)
        print(_tables(samples, seen, sorted({k[3] for k in samples})))
        return 0
    profiles: list[str] = []
    for transport in transports:
        with _world(transport) as world:
            for n in ns:
                log(f"{transport} N={n}")
                measure(world, transport, n, args.reps, samples, args.baseline)
                if args.json:
                    raw = {"|".join(map(str, k)): v for k, v in samples.items()}
                    args.json.write_text(json.dumps(raw, indent=1))
            if args.profile:
                profiles.append(profile(world, transport, args.profile_n))
    print(_tables(samples, transports, ns))
    for text in profiles:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
