"""``python -m bench.peer_kcli [--n 10,50] [--reps 1]``: VigoVm against kcli, the tool an
operator would script instead (issue 24), in one run.

N running VMs from one base with cloud-init, on one isolated libvirt network (no
``<forward>``, 198.19.200.0/24), ``domain_type`` qemu (TCG), 128 MiB, 1 vCPU each:

* **vigo** — one ``up`` of a stack of N ``VigoVm`` (``state="running"``, ``wait_for="none"``)
  through the engine harness (program process + ``python -m pulumi.dynamic`` over gRPC);
  then one ``destroy``;
* **kcli-count** — one ``kcli create vm -c N`` (kcli's own loop, one process); then one
  ``kcli delete vm -y`` naming the N VMs (one process);
* **kcli-each** — one ``kcli create vm`` process per VM, one after the other, as a shell
  loop would; then one ``kcli delete vm -y`` per VM.

What each side waits for: every create returns once libvirt has started the domain (kcli
without ``wait``; VigoVm with ``wait_for="none"``); neither waits for the guest (the base
is a blank disk: the guests never boot an OS). Each delete returns once the domain is
powered off (libvirt ``destroy``: kcli always, VigoVm because nothing of these VMs outlives
them), undefined and its overlay and seed removed. Printed: seconds per actor and verb
(median of ``reps``) and vigo's ratio to each kcli mode (< 1: VigoVm is faster).
kcli runs through ``bench/kcli_cli.py`` (its CLI, seeing only the bench's storage pool).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt

from pulumi_vigo_vm.testing import EngineHarness

from .stats import median
from .subject import PROGRAM
from .world import USER_DATA, World

MEMORY_MIB = 128
NETWORK_PREFIX = "198.19.200"
KCLI_CLI = Path(__file__).resolve().parent / "kcli_cli.py"
KCLI_TIMEOUT_S = 900
ACTORS = ("vigo", "kcli-count", "kcli-each")
VERBS = ("create", "delete")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _network(world: World) -> Iterator[str]:
    """A transient isolated network: a bridge and an address, no ``<forward>``, no DHCP."""
    name = f"{world.prefix()}knet"
    xml = (
        f"<network><name>{name}</name><bridge name='bk{world.token}' stp='off'/>"
        f"<ip address='{NETWORK_PREFIX}.1' netmask='255.255.255.0'/></network>"
    )
    network = world.conn.networkCreateXML(xml)
    try:
        yield name
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            network.destroy()


@contextlib.contextmanager
def _kcli_pool(world: World) -> Iterator[tuple[str, str]]:
    """A transient dir pool holding a copy of the base (kcli finds images as pool volumes,
    and writes its overlays and seed ISOs there); (pool name, image name)."""
    directory = world.images_dir("kcli")
    image = "kcli-base.qcow2"
    shutil.copyfile(world.base, directory / image)
    (directory / image).chmod(0o644)
    name = f"{world.prefix()}kpool"
    xml = f"<pool type='dir'><name>{name}</name><target><path>{directory}</path></target></pool>"
    pool = world.conn.storagePoolCreateXML(xml)
    try:
        yield name, image
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()


def _kcli_env(world: World, pool: str) -> dict[str, str]:
    """kcli's config in a home of its own: the local libvirt, the bench's pool."""
    home = world.root / "kcli-home"
    (home / ".kcli").mkdir(parents=True, exist_ok=True)
    (home / ".kcli" / "config.yml").write_text(
        f"default:\n  client: local\nlocal:\n  type: kvm\n  pool: {pool}\n"
    )
    return {**os.environ, "HOME": str(home), "KCLI_BENCH_POOLS": pool}


class Kcli:
    """kcli's CLI, one process per call, as a script calls it."""

    def __init__(self, env: dict[str, str], pool: str, image: str, network: str) -> None:
        self.env = env
        self.image = image
        self.params = [
            f"memory={MEMORY_MIB}",
            "numcpus=1",
            "virttype=qemu",
            f"pool={pool}",
            f"nets=[{network}]",
            "cmds=['echo vigo-bench']",
            "start=true",
        ]

    def __call__(self, *args: str) -> None:
        command = [sys.executable, str(KCLI_CLI), *args]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=KCLI_TIMEOUT_S
        )
        if done.returncode != 0 or "failure" in done.stdout.lower():
            raise RuntimeError(f"{' '.join(args[:4])}: {done.stdout[-400:]} {done.stderr[-400:]}")

    def create(self, name: str, count: int = 0) -> None:
        params = [flag for param in self.params for flag in ("-P", param)]
        counted = ["-c", str(count)] if count else []
        self("create", "vm", *counted, "-i", self.image, *params, name)

    def delete(self, *names: str) -> None:
        self("delete", "vm", "-y", *names)


SUFFIX = {"vigo": "v", "kcli-count": "c", "kcli-each": "e"}
"""Each actor's VMs are named ``bench-<token><round><suffix>-...``."""


def _actors(
    world: World, kcli: Kcli, network: str, n: int, tag: str
) -> dict[str, dict[str, Callable[[], None]]]:
    each = world.names(f"{tag}e", n)
    counted = world.prefix(f"{tag}c")[:-1]  # kcli names them <counted>-0 .. -N-1
    harness = _vigo(world, network, f"{tag}v", n)

    def create_each() -> None:
        for name in each:
            kcli.create(name)

    def delete_each() -> None:
        for name in each:
            kcli.delete(name)

    return {
        "vigo": {
            "create": lambda: _ok(harness().up()),
            "delete": lambda: _ok(harness().destroy()),
        },
        "kcli-count": {
            "create": lambda: kcli.create(counted, count=n),
            "delete": lambda: kcli.delete(*(f"{counted}-{i}" for i in range(n))),
        },
        "kcli-each": {"create": create_each, "delete": delete_each},
    }


def _vigo(world: World, network: str, tag: str, n: int) -> Callable[[], EngineHarness]:
    vms = {
        name: {
            "vm_name": name,
            "memory_mib": MEMORY_MIB,
            "vcpu": 1,
            "disk_path": str(world.base),
            "network": network,
            "cloud_init_user_data": USER_DATA,
            "state": "running",
            "wait_for": "none",
        }
        for name in world.names(tag, n)
    }
    config = {
        "test:vms": json.dumps(vms),
        "vigo:uri": world.uri,
        "vigo:domainType": "qemu",
        "vigo:imagesDir": str(world.images_dir(tag)),
    }
    state = world.root / f"state-{tag}.json"
    return lambda: EngineHarness(PROGRAM, state_file=state, config=config)


def _ok(result: object) -> None:
    assert getattr(result, "ok", False), getattr(result, "errors", [])[:2]


def _running(world: World, prefix: str) -> int:
    return sum(
        1 for dom in world.conn.listAllDomains() if dom.name().startswith(prefix) and dom.isActive()
    )


Samples = dict[tuple[str, str, int], list[float]]  # (actor, verb, n) -> seconds


def measure(world: World, kcli: Kcli, network: str, n: int, reps: int, samples: Samples) -> None:
    """``reps`` rounds; who goes first rotates; each round's domains and files are removed
    after it (also when it fails)."""
    for rep in range(reps):
        tag = f"{n}r{rep}"
        actors = _actors(world, kcli, network, n, tag)
        order = ACTORS[rep % 3 :] + ACTORS[: rep % 3]
        try:
            for who in order:
                for verb in VERBS:
                    started = time.monotonic()
                    actors[who][verb]()
                    seconds = time.monotonic() - started
                    running = _running(world, world.prefix(tag + SUFFIX[who]))
                    want = n if verb == "create" else 0
                    assert running == want, f"{who} {verb}: {running} of {n} VMs running"
                    samples.setdefault((who, verb, n), []).append(seconds)
                    log(f"  n={n:<3} {who:10} {verb:6} {seconds:8.2f}s")
        finally:
            for suffix in SUFFIX.values():
                world.cleanup(tag + suffix)
            _remove_kcli_files(world, kcli.image)


def _remove_kcli_files(world: World, image: str) -> None:
    """What a failed kcli round left in its pool's directory (the base copy stays)."""
    for path in world.images_dir("kcli").iterdir():
        if path.name != image:
            path.unlink()


def render(samples: Samples, ns: list[int]) -> str:
    rows = [
        "| N | verb | vigo s | kcli -c N s | kcli per VM s | vigo / kcli -c N "
        "| vigo / kcli per VM |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n in ns:
        for verb in VERBS:
            vigo, count, each = (median(samples.get((a, verb, n), [])) for a in ACTORS)
            rows.append(
                f"| {n} | {verb} | {vigo:.2f} | {count:.2f} | {each:.2f} "
                f"| {vigo / count:.2f}x | {vigo / each:.2f}x |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_kcli", description=__doc__)
    parser.add_argument("--n", default="10,50", help="VM counts (comma-separated)")
    parser.add_argument("--reps", default="3,1", help="repetitions per N (comma-separated)")
    parser.add_argument("--json", type=Path, help="write the raw samples here")
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.n.split(",")]
    reps = [int(x) for x in args.reps.split(",")]
    reps += [reps[-1]] * (len(ns) - len(reps))
    samples: Samples = {}
    with (
        World.create() as world,
        _network(world) as network,
        _kcli_pool(world) as (pool, image),
    ):
        kcli = Kcli(_kcli_env(world, pool), pool, image, network)
        for n, rep in zip(ns, reps, strict=True):
            log(f"N={n}, {rep} repetition(s)")
            measure(world, kcli, network, n, rep, samples)
            if args.json:
                raw = {"|".join(map(str, k)): v for k, v in samples.items()}
                args.json.write_text(json.dumps(raw, indent=1))
    print(render(samples, ns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
