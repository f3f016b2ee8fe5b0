"""``python -m bench.downtime [--json PATH]``: the guest's downtime for a data-disk add.

One TCG guest boots from the test image (``tests/images/build.py``, cached at
``$VIGO_TEST_IMAGE_CACHE``); a loop in it, started on every boot by cloud-init's per-boot
scripts, prints ``VIGO-BEAT <n>`` on its serial console every 0.5 s. The bench tails the
console log on the host and records when each beat arrives. Nothing connects to the guest
(its NIC sits on the bench's isolated bridge).

The same guest then takes two ``up``s, each adding one data disk:

* hot-plug: a virtio disk, which the provider attaches to the running guest;
* restart, the baseline: a SATA disk, which qemu cannot hot-plug (AHCI), so the provider
  shuts the guest down and starts it on the new definition (``restart_on_change``, default
  true) — what every data-disk add cost before hot-plug.

The guest's downtime is the longest gap between two beats from the start of the ``up`` until
the beats have run again for a while after it returned; the idle gap (the longest one in a
quiet stretch before either ``up``) shows what the loop's own jitter is under TCG on this
machine. qemu's PID and the domain ID are read before and after each ``up``: both change
with a restart. The bench fails if the guest never reports, or stops reporting for good.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import libvirt

from pulumi_vigo_vm.testing import EngineHarness
from pulumi_vigo_vm.vm.filenames import console_log_path

from .subject import PROGRAM
from .world import LOCAL_URI, World

REPO = Path(__file__).resolve().parent.parent
PERIOD_S = 0.5
BOOT_TIMEOUT_S = 600.0
"""A TCG boot of the test image on a shared two-core machine, with room to spare."""
IDLE_S = 10.0
AFTER_S = 5.0
"""How long the beats must have run again after an ``up`` before its window closes."""
BEAT = re.compile(rb"VIGO-BEAT (\d+)\r?\n")
HEARTBEAT = """#!/bin/sh
setsid sh -c 'i=0; while true; do i=$((i+1)); echo "VIGO-BEAT $i" > /dev/ttyS0; \
sleep 0.5; done' </dev/null >/dev/null 2>&1 &
"""
USER_DATA = f"""#cloud-config
write_files:
  - path: /var/lib/cloud/scripts/per-boot/vigo-heartbeat
    permissions: "0755"
    content: |
{chr(10).join("      " + line for line in HEARTBEAT.splitlines())}
"""


def _image() -> Path:
    """The cached test image (built first when missing), via ``tests/images/build.py``."""
    spec = importlib.util.spec_from_file_location(
        "vigo_test_image_build", REPO / "tests" / "images" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    builder: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return Path(builder.ensure_image())


@dataclass
class Beats:
    """Host receive times (monotonic) of the guest's beats, from a thread tailing the log.

    virtlogd appends each boot to the same file; a file that shrank is read from its start.
    """

    path: Path
    times: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def tailing(self) -> Iterator[Beats]:
        thread = threading.Thread(target=self._tail, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def _tail(self) -> None:
        offset, pending = 0, b""
        while not self._stop.wait(0.02):
            try:
                with self.path.open("rb") as log:
                    if log.seek(0, 2) < offset:
                        offset, pending = 0, b""
                    log.seek(offset)
                    chunk = log.read()
            except FileNotFoundError:
                continue
            if not chunk:
                continue
            now = time.monotonic()
            offset += len(chunk)
            lines = (pending + chunk).replace(b"\r", b"").split(b"\n")
            pending = lines.pop()
            beats = sum(1 for line in lines if BEAT.search(line + b"\n"))
            with self._lock:
                self.times.extend([now] * beats)

    def since(self, start: float) -> list[float]:
        with self._lock:
            return [t for t in self.times if t >= start]

    def wait(self, after: float, run_s: float, timeout: float, what: str) -> None:
        """Return once beats have arrived for ``run_s`` seconds after ``after``; fail loudly
        after ``timeout`` seconds without that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.since(after)
            if seen and seen[-1] - seen[0] >= run_s:
                return
            time.sleep(0.2)
        tail = self.path.read_bytes()[-3000:].decode(errors="replace") if self.path.exists() else ""
        raise SystemExit(
            f"the guest did not report (VIGO-BEAT on its console) {what} within "
            f"{timeout:.0f} s; console tail:\n{tail}"
        )

    def longest_gap(self, start: float, end: float) -> float:
        """The longest silence in [start, end]: from ``start`` to the first beat, between
        beats, and from the last beat to ``end``."""
        points = [start, *(t for t in self.since(start) if t <= end), end]
        return max(b - a for a, b in itertools.pairwise(points))


@dataclass
class Change:
    """One ``up`` adding a data disk, as the guest saw it."""

    label: str
    bus: str
    up_s: float
    downtime_s: float
    restarted: bool
    qemu_pid: tuple[int, int]
    domain_id: tuple[int, int]


@dataclass
class Bench:
    world: World
    image: Path
    name: str
    disks: list[dict[str, Any]] = field(default_factory=list)

    def harness(self) -> EngineHarness:
        declared = {
            "vm_name": self.name,
            "disk_path": str(self.image),
            "domain_type": "qemu",
            "memory_mib": 768,
            "vcpu": 1,
            "disk_size_gib": 3,
            "network_bridge": self.world.bridge(),
            "cloud_init_user_data": USER_DATA,
            "shutdown_timeout_s": 120,
            **({"data_disks": self.disks} if self.disks else {}),
        }
        config = {
            "test:vms": json.dumps({"vm": declared}),
            "vigo:uri": LOCAL_URI,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.world.images_dir("d")),
        }
        return EngineHarness(PROGRAM, state_file=self.world.root / "state.json", config=config)

    def identity(self) -> tuple[int, int]:
        """qemu's PID and the domain ID: both change with any restart."""
        pid = int(Path(f"/run/libvirt/qemu/{self.name}.pid").read_text().strip())
        return pid, self.world.conn.lookupByName(self.name).ID()

    def add_disk(self, beats: Beats, label: str, bus: str) -> Change:
        data = self.world.root / f"{label}.qcow2"
        _qemu_img_create(data)
        self.disks.append({"path": str(data), "serial": label, "bus": bus})
        before = self.identity()
        start = time.monotonic()
        self.harness().up()
        returned = time.monotonic()
        beats.wait(returned, AFTER_S, BOOT_TIMEOUT_S, f"again after the {label} up")
        end = beats.since(returned)[-1]
        after = self.identity()
        return Change(
            label=label,
            bus=bus,
            up_s=returned - start,
            downtime_s=beats.longest_gap(start, end),
            restarted=after != before,
            qemu_pid=(before[0], after[0]),
            domain_id=(before[1], after[1]),
        )


def _qemu_img_create(path: Path) -> None:
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True, timeout=60
    )
    path.chmod(0o666)  # qemu runs as libvirt-qemu


def run() -> dict[str, Any]:
    image = _image()
    with World.create() as world:
        bench = Bench(world, image, world.names("d", 1)[0])
        log = Path(console_log_path(bench.name))
        try:
            with Beats(log).tailing() as beats:
                booted = time.monotonic()
                bench.harness().up()
                beats.wait(booted, IDLE_S, BOOT_TIMEOUT_S, "after its first boot")
                quiet = beats.since(booted)[-1]
                idle = beats.longest_gap(quiet - IDLE_S, quiet)
                print(f"booted; idle gap {idle:.2f} s", file=sys.stderr, flush=True)
                hot = bench.add_disk(beats, "hot", "virtio")
                print(f"hot-plug: {hot}", file=sys.stderr, flush=True)
                cold = bench.add_disk(beats, "cold", "sata")
                print(f"restart: {cold}", file=sys.stderr, flush=True)
        finally:
            with contextlib.suppress(Exception):
                bench.harness().destroy()
            with contextlib.suppress(libvirt.libvirtError):
                world.cleanup()
            log.unlink(missing_ok=True)
    if hot.restarted or not cold.restarted:
        raise SystemExit(f"unexpected: hot-plug restarted={hot.restarted}, SATA={cold.restarted}")
    return {
        "period_s": PERIOD_S,
        "idle_gap_s": idle,
        "changes": [asdict(hot), asdict(cold)],
        "ratio_hotplug_to_restart": hot.downtime_s / cold.downtime_s,
    }


def table(result: dict[str, Any]) -> str:
    hot, cold = result["changes"]
    lines = [
        f"heartbeat every {result['period_s']} s; idle longest gap {result['idle_gap_s']:.2f} s",
        "| data-disk add | up s | guest downtime s | ratio to restart | same qemu PID "
        "| same domain ID |",
        "|---|---:|---:|---:|---|---|",
    ]
    for change, name in ((cold, "restart (SATA, baseline)"), (hot, "hot-plug (virtio)")):
        pid, dom = change["qemu_pid"], change["domain_id"]
        lines.append(
            f"| {name} | {change['up_s']:.1f} | {change['downtime_s']:.2f} "
            f"| {change['downtime_s'] / cold['downtime_s']:.3f} | {pid[0] == pid[1]} "
            f"| {dom[0] == dom[1]} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.downtime", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args(argv)
    # `kill` (SIGTERM) unwinds like Ctrl-C, so the guest and its files are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
