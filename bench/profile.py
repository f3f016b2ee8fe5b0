"""Profile the provider in-process: its methods called directly with the props the engine
sends (numbers as floats), under cProfile, against a real libvirtd.

This separates the provider's own work from the harness (gRPC, processes): per-VM wall time
of ``diff`` (the whole no-op preview cost per VM, minus Check) and ``create``, next to the
number of subprocesses (qemu-img) each spawns, and the top of the cumulative profile.
"""

from __future__ import annotations

import cProfile
import io
import math
import pstats
import resource
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.fields import TYPE_TOKEN

from . import floor as floor_module
from .floor import Floor
from .stats import timed
from .subject import MEMORY, Subject
from .world import LOCAL_URI, World

N = 10


@contextmanager
def counting_subprocesses() -> Iterator[list[list[str]]]:
    """Record every ``subprocess.run`` argv made inside the block."""
    calls: list[list[str]] = []
    original = subprocess.run

    def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(argv))
        return original(argv, *args, **kwargs)

    subprocess.run = run  # type: ignore[assignment]
    try:
        yield calls
    finally:
        subprocess.run = original


def _wire(props: dict[str, Any]) -> dict[str, Any]:
    """What the engine sends: every number a float."""
    return {
        k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in props.items()
    }


def _profiled(fn: Callable[[], None]) -> tuple[float, str]:
    profiler = cProfile.Profile()
    seconds, _ = timed(lambda: profiler.runcall(fn))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(22)
    return seconds, out.getvalue()


def run(uri: str = LOCAL_URI) -> str:
    """Profile create and diff for N VMs; compare with the floor doing the same, in-process."""
    report: list[str] = [f"# in-process profile against {uri.split('?')[0]}"]
    with World.create(uri) as world:
        tag = "pr"
        images = str(world.images_dir(tag))
        cfg = {"uri": uri, "domainType": "qemu", "imagesDir": images}
        provider = VmProvider()
        provider._defaults = ProviderDefaults.from_config(cfg.get)
        # VigoVm computes a claim (its URN) at declaration; called directly, we give one.
        declared = {
            name: {**props, "claim": f"bench/urn:pulumi:bench::bench::{TYPE_TOKEN}::{name}"}
            for name, props in world.declarations(tag, N, "defined").items()
        }
        checked = {name: _wire(provider.check({}, _wire(d)).inputs) for name, d in declared.items()}
        outs: dict[str, dict[str, Any]] = {}

        def create_all() -> None:
            for name, props in checked.items():
                outs[name] = _wire(provider.create(props).outs)

        with counting_subprocesses() as calls:
            seconds, text = _profiled(create_all)
        report.append(
            f"## provider.create, {N} VMs in-process, sequential: {seconds / N * 1000:.1f} ms/VM, "
            f"{len(calls) / N:.1f} subprocesses/VM: {_kinds(calls)}"
        )
        report.append(text)

        def diff_all() -> None:
            for name, props in checked.items():
                result = provider.diff(outs[name]["uuid"], outs[name], props)
                assert not result.changes, name

        _cold()  # as in a fresh provider process: every harness run starts one
        with counting_subprocesses() as calls:
            seconds, text = _profiled(diff_all)
        report.append(
            f"## provider.diff (no-op, cold caches), {N} VMs in-process, sequential: "
            f"{seconds / N * 1000:.1f} "
            f"ms/VM, {len(calls) / N:.1f} subprocesses/VM: {_kinds(calls)}"
        )
        report.append(text)

        def delete_all() -> None:
            for props in outs.values():
                provider.delete(props["uuid"], props)

        _cold()  # a fresh provider process, as the floor opens its connections in its run
        with counting_subprocesses() as calls:
            seconds, text = _profiled(delete_all)
        report.append(
            f"## provider.delete (recorded defined VMs, ownership checks included), {N} VMs "
            f"in-process, sequential: {seconds / N * 1000:.1f} ms/VM, "
            f"{len(calls) / N:.1f} subprocesses/VM: {_kinds(calls)}"
        )
        report.append(text)
        world.cleanup(tag)

        floor_tag = "pf"
        floor = Floor(
            uri, str(world.images_dir(floor_tag)), str(world.base), world.names(floor_tag, N)
        )
        saved, floor_module.WORKERS = floor_module.WORKERS, 1  # sequential, like the above
        try:
            with counting_subprocesses() as calls:
                seconds, _ = timed(lambda: floor.create(start=False))
            report.append(
                f"## floor create, {N} VMs, sequential: {seconds / N * 1000:.1f} ms/VM, "
                f"{len(calls) / N:.1f} subprocesses/VM: {_kinds(calls)}"
            )
            with counting_subprocesses() as calls:
                seconds, _ = timed(floor.observe)
            report.append(
                f"## floor observe, {N} VMs, sequential: {seconds / N * 1000:.1f} ms/VM, "
                f"{len(calls) / N:.1f} subprocesses/VM: {_kinds(calls)}"
            )
            seconds, _ = timed(floor.delete)
            report.append(f"## floor delete, {N} VMs, sequential: {seconds / N * 1000:.1f} ms/VM")
        finally:
            floor_module.WORKERS = saved
        world.cleanup(floor_tag)
    return "\n".join(report)


def attribution(ns: tuple[int, int] = (10, 50)) -> str:
    """Where the harness wall time goes: CPU seconds of the provider process (its own, not
    qemu-img) and of this process (the engine harness: gRPC, protobuf, checkpoints), per
    verb at two N; the marginal difference per VM is free of start-up costs."""
    rows = [
        "| verb | N | wall s | provider CPU s | harness CPU s | program+qemu-img CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    per_n: dict[tuple[str, int], tuple[float, float, float, float]] = {}
    with World.create(LOCAL_URI) as world:
        for n in ns:
            subject = Subject(world, "at", n)
            subject.state_file.unlink(missing_ok=True)
            try:
                for verb, fn in (
                    ("up (create defined)", lambda s=subject: s.up("defined")),
                    ("preview (no-op)", lambda s=subject: s.preview("defined")),
                    ("fixed (1 new VM preview)", subject.empty_preview),
                ):
                    before, kids = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
                    wall, _ = timed(fn)
                    harness = _cpu(resource.RUSAGE_SELF) - before
                    provider = MEMORY.take_cpu() or math.nan
                    # children reaped during the verb: the program, the provider and what the
                    # provider reaped (qemu-img); minus the provider's own share
                    others = _cpu(resource.RUSAGE_CHILDREN) - kids - provider
                    MEMORY.take()
                    per_n[(verb, n)] = (wall, provider, harness, others)
                    rows.append(
                        f"| {verb} | {n} | {wall:.3f} | {provider:.3f} | {harness:.3f} "
                        f"| {others:.3f} |"
                    )
            finally:
                world.cleanup("at")
    lo, hi = ns
    for verb in ("up (create defined)", "preview (no-op)"):
        a, b = per_n[(verb, lo)], per_n[(verb, hi)]
        marg = [(y - x) / (hi - lo) * 1000 for x, y in zip(a, b, strict=True)]
        rows.append(
            f"| {verb}: marginal ms/VM | {lo}->{hi} | {marg[0]:.1f} | {marg[1]:.1f} | "
            f"{marg[2]:.1f} | {marg[3]:.1f} |"
        )
    return "\n".join(rows)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _cold() -> None:
    """Forget the provider's per-process caches (base checks, libvirt connections)."""
    from pulumi_vigo_vm.hostfile import images
    from pulumi_vigo_vm.virt import connection

    images._bases.clear()
    from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts

    with connection._lock:
        connection._connections.clear()
    close_all_ssh_hosts()


def _kinds(calls: list[list[str]]) -> str:
    kinds: dict[str, int] = {}
    for argv in calls:
        key = " ".join(argv[:2])
        kinds[key] = kinds.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))
