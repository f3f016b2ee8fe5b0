"""``python -m bench.deletes [--n 20] [--reps 5] [--transports local,ssh]``: the delete
target, the provider's own delete against the floor's, without a profiler.

Both take N recorded defined VMs (overlay, seed, definition) away, one after the other, in
this process: the provider's ``delete`` with the outputs the engine recorded (numbers as
floats), ownership checks included (marker, overlay header, seed identity), against
``bench/floor.py``'s lookup, undefine and two unlinks. Each repetition starts cold (the
provider's connection cache and the floor's session both open their connections inside
the timing, as every run does) and alternates who goes first. Reports medians per VM and
the ratio (target: at most 2x), and the marginal cost without the connection opens (the
provider's VMs after its first; the floor's session minus an empty session of its own).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator

from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.fields import TYPE_TOKEN

from . import floor as floor_module
from .floor import Floor
from .profile import _cold, _wire
from .stats import median, timed
from .world import LOCAL_URI, World


def _provider_round(world: World, uri: str, n: int, tag: str) -> tuple[float, float]:
    """(whole, first VM) seconds of the provider deleting ``n`` freshly created VMs."""
    cfg = {"uri": uri, "domainType": "qemu", "imagesDir": str(world.images_dir(tag))}
    provider = VmProvider()
    provider._defaults = ProviderDefaults.from_config(cfg.get)
    outs = []
    for name, props in world.declarations(tag, n, "defined").items():
        props["claim"] = f"bench/urn:pulumi:bench::bench::{TYPE_TOKEN}::{name}"
        checked = _wire(provider.check({}, _wire(props)).inputs)
        outs.append(_wire(provider.create(checked).outs))
    _cold()
    first, _ = timed(lambda: provider.delete(outs[0]["uuid"], outs[0]))
    rest, _ = timed(lambda: [provider.delete(o["uuid"], o) for o in outs[1:]])
    return first + rest, first


def _floor_round(world: World, uri: str, n: int, tag: str) -> tuple[float, float]:
    """(whole, connections) seconds of the floor deleting ``n`` freshly created VMs: one
    session, and an empty session (its connection opens and closes alone)."""
    names = world.names(tag, n)
    floor = Floor(uri, str(world.images_dir(tag)), str(world.base), names)
    floor.create(start=False)
    whole, _ = timed(floor.delete)
    opens, _ = timed(Floor(uri, floor.images, floor.base, []).delete)
    return whole, opens


@contextlib.contextmanager
def _sequential_floor() -> Iterator[None]:
    saved, floor_module.WORKERS = floor_module.WORKERS, 1
    try:
        yield
    finally:
        floor_module.WORKERS = saved


def measure(uri: str, n: int, reps: int) -> dict[str, list[tuple[float, float]]]:
    """Samples of (whole, first) seconds per actor."""
    samples: dict[str, list[tuple[float, float]]] = {"provider": [], "floor": []}
    actors: list[tuple[str, Callable[[World, str, int, str], tuple[float, float]]]] = [
        ("provider", _provider_round),
        ("floor", _floor_round),
    ]
    with World.create(uri) as world, _sequential_floor():
        for rep in range(reps):
            for who, run in actors if rep % 2 == 0 else actors[::-1]:
                tag = f"d{who[0]}{rep}"
                try:
                    samples[who].append(run(world, uri, n, tag))
                finally:
                    world.cleanup(tag)
    return samples


def render(transport: str, n: int, samples: dict[str, list[tuple[float, float]]]) -> str:
    def per_vm(who: str) -> tuple[float, float]:
        whole = median(w for w, _ in samples[who]) / n
        # provider: the VMs after the first (which opened the connections); floor: its
        # session minus an empty session's connection opens
        rest = n - 1 if who == "provider" else n
        marginal = median((w - f) for w, f in samples[who]) / rest
        return whole, marginal

    (pw, pm), (fw, fm) = per_vm("provider"), per_vm("floor")
    return (
        f"| {transport} | {n} | {pw * 1000:.2f} | {fw * 1000:.2f} | {pw / fw:.2f}x "
        f"| {pm * 1000:.2f} | {fm * 1000:.2f} | {pm / fm:.2f}x |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deletes", description=__doc__)
    parser.add_argument("--n", type=int, default=20, help="VMs per round (at least 2)")
    parser.add_argument("--reps", type=int, default=5, help="rounds per actor (median taken)")
    parser.add_argument("--transports", default="local,ssh")
    args = parser.parse_args(argv)
    rows = [
        f"delete of {args.n} recorded defined VMs in-process, sequential, median of {args.reps}",
        "",
        "| transport | N | provider ms/VM | floor ms/VM | ratio | provider marginal ms/VM "
        "| floor marginal ms/VM | marginal ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in args.transports.split(","):
        with contextlib.ExitStack() as stack:
            uri = LOCAL_URI
            if transport == "ssh":
                from .__main__ import _sshd

                uri = stack.enter_context(_sshd()).uri
            samples = measure(uri, args.n, args.reps)
            print(f"  {transport}: {samples}", file=sys.stderr, flush=True)
            rows.append(render(transport, args.n, samples))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
