"""``python -m bench.move [--json PATH]``: a VM's move to another host (``on_host_change=
"migrate"``, a ``uri`` change) against ``virsh migrate --live --p2p --copy-storage-inc`` of
the same guest, on the two-host rig (``tests/support/twohost``, built here and removed after).

One TCG guest boots from the test image (``tests/images/build.py``, cached at
``$VIGO_TEST_IMAGE_CACHE``) on host A, no NIC (B has no bridge), its own files in an images
directory of each host's own; the test image sits in /var/tmp, which both hosts share. It then
goes A → B → A by two ``up``s that change only ``uri``, then A → B → A by ``virsh migrate``
(after what virsh leaves to the operator: the root's empty twin made on the target with
``qemu-img create`` over the same base, the seed ISO copied, the source's files removed after,
outside the timing). Each way's time is the wall time of the ``up`` or of ``virsh``; its
downtime is libvirt's, from the completed job's statistics on the destination. The guest's
boot ID, read through the guest agent, must be the same at the end: all four moves were live.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import libvirt
import libvirt_qemu

from pulumi_vigo_vm.testing import EngineHarness
from tests.support.twohost import RigHost, TwoHosts, running_two_hosts

from .downtime import BOOT_TIMEOUT_S, _image
from .subject import PROGRAM
from .world import World

IMAGES = "/var/lib/libvirt/images"
USER_DATA = "#cloud-config\n"
COMMAND_TIMEOUT_S = 600


@dataclass
class Move:
    """One move of the guest, as timed here and as libvirt reports it."""

    way: str
    direction: str
    seconds: float
    downtime_ms: int
    noop_s: float | None = None
    """A no-op ``up`` at the destination right after: the engine's and the provider's
    fixed cost of any ``up`` (the provider's moves only)."""


def _conn(host: RigHost) -> libvirt.virConnect:
    return libvirt.open(host.local_uri)


def _agent(domain: libvirt.virDomain, command: str, **arguments: Any) -> Any:
    request = json.dumps({"execute": command, "arguments": arguments})
    return json.loads(libvirt_qemu.qemuAgentCommand(domain, request, 30, 0))["return"]


@dataclass
class Bench:
    world: World
    rig: TwoHosts
    image: Path
    name: str

    @property
    def images(self) -> str:
        return f"{IMAGES}/{self.name}"

    def harness(self, uri: str) -> EngineHarness:
        declared = {
            "vm_name": self.name,
            "uri": uri,
            "images_dir": self.images,
            "on_host_change": "migrate",
            "disk_path": str(self.image),
            "domain_type": "qemu",
            "memory_mib": 512,
            "vcpu": 1,
            "disk_size_gib": 3,
            "cloud_init_user_data": USER_DATA,
            "shutdown_timeout_s": 60,
        }
        config = {"test:vms": json.dumps({"vm": declared}), "vigo:domainType": "qemu"}
        return EngineHarness(PROGRAM, state_file=self.world.root / "state.json", config=config)

    def domain(self, host: RigHost) -> libvirt.virDomain:
        return _conn(host).lookupByName(self.name)

    def boot_id(self, host: RigHost) -> str:
        """The guest's boot ID, read through its agent on ``host`` (waiting for the agent)."""
        domain = self.domain(host)
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            try:
                handle = _agent(domain, "guest-file-open", path="/proc/sys/kernel/random/boot_id")
                break
            except libvirt.libvirtError:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"the guest agent did not answer in {BOOT_TIMEOUT_S} s"
                    ) from None
                time.sleep(2)
        read = _agent(domain, "guest-file-read", handle=handle, count=64)
        _agent(domain, "guest-file-close", handle=handle)
        return base64.b64decode(read["buf-b64"]).decode().strip()

    def downtime_ms(self, host: RigHost) -> int:
        """libvirt's downtime of the migration that just ended at ``host``."""
        stats = self.domain(host).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        return int(stats["downtime"])

    def provider(self, source: RigHost, target: RigHost, uri: str) -> Move:
        started = time.monotonic()
        result = self.harness(uri).up()
        seconds = time.monotonic() - started
        if result.ops() != {"vm": "update"}:
            raise SystemExit(f"the move to {target.hostname} was {result.ops()}")
        way = f"{source.hostname} → {target.hostname}"
        downtime = self.downtime_ms(target)
        started = time.monotonic()
        if self.harness(uri).up().counts() != {"same": 1}:
            raise SystemExit(f"the up after the move to {target.hostname} was not a no-op")
        return Move("provider up", way, seconds, downtime, time.monotonic() - started)

    def virsh(self, source: RigHost, target: RigHost) -> Move:
        """What an operator does with virsh: the target's files, the migration, the
        source's files removed; only the migration is timed."""
        files = sorted(p.name for p in source.path(self.images).iterdir())
        target.path(self.images).mkdir(parents=True, exist_ok=True)
        for name in files:
            there = target.path(f"{self.images}/{name}")
            if name.endswith(".qcow2"):
                _run(*_create_twin(self.image, there))
            else:
                shutil.copy2(source.path(f"{self.images}/{name}"), there)
        argv = ["virsh", "-c", source.local_uri, "migrate", "--live", "--p2p"]
        argv += ["--copy-storage-inc", "--persistent", "--undefinesource"]
        started = time.monotonic()
        _run(*argv, self.name, target.libvirt_uri)
        seconds = time.monotonic() - started
        for name in files:
            source.path(f"{self.images}/{name}").unlink()
        way = f"{source.hostname} → {target.hostname}"
        return Move("virsh migrate", way, seconds, self.downtime_ms(target))


def _create_twin(base: Path, path: Path) -> list[str]:
    return [
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "qcow2",
        "-b",
        str(base),
        str(path),
        "3G",
    ]


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)


def run() -> dict[str, Any]:
    image = _image()
    with running_two_hosts() as rig, World.create() as world:
        a, b = rig.a, rig.b
        bench = Bench(world, rig, image, world.names("m", 1)[0])
        try:
            bench.harness(a.local_uri).up()
            boot_id = bench.boot_id(a)
            print(f"booted on {a.hostname}", file=sys.stderr, flush=True)
            moves = [
                bench.provider(a, b, b.ssh_uri),
                bench.provider(b, a, a.local_uri),
                bench.virsh(a, b),
                bench.virsh(b, a),
            ]
            for move in moves:
                print(move, file=sys.stderr, flush=True)
            if bench.boot_id(a) != boot_id:
                raise SystemExit("the guest rebooted during a move")
        finally:
            with contextlib.suppress(Exception):
                bench.harness(a.local_uri).destroy()
            for host in (a, b):
                with contextlib.suppress(libvirt.libvirtError):
                    left = bench.domain(host)
                    if left.isActive():
                        left.destroy()
                    left.undefine()
                shutil.rmtree(host.path(bench.images), ignore_errors=True)
    ours, theirs = moves[:2], moves[2:]

    def median(of: list[Move], what: str) -> float:
        return statistics.median(getattr(m, what) for m in of)

    return {
        "moves": [asdict(m) for m in moves],
        "ratio_seconds": median(ours, "seconds") / median(theirs, "seconds"),
        "ratio_downtime": median(ours, "downtime_ms") / median(theirs, "downtime_ms"),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| move | direction | total s | no-op up s | downtime ms |",
        "|---|---|---:|---:|---:|",
    ]
    for m in result["moves"]:
        noop = "" if m["noop_s"] is None else f"{m['noop_s']:.1f}"
        lines.append(
            f"| {m['way']} | {m['direction']} | {m['seconds']:.1f} | {noop} | {m['downtime_ms']} |"
        )
    lines.append(
        f"ratio provider / virsh (medians): total {result['ratio_seconds']:.2f}, "
        f"downtime {result['ratio_downtime']:.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.move", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: guest, rig removed
    result = run()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
