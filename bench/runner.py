"""Interleaved measurement: subject, floor and peer take turns on the same world.

The machine is shared, so each repetition alternates who goes first and every cell's
number is the median over repetitions; load then hits baseline and subject alike.
"""

from __future__ import annotations

import contextlib
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import peer
from .floor import Floor
from .stats import Samples, timed
from .subject import MEMORY, Subject
from .world import World

if TYPE_CHECKING:
    from pulumi_vigo_vm.testing.sshd import PrivateSshd

OPS = (
    "create_defined",
    "preview_noop",
    "delete_defined",
    "create_running",
    "stop",
    "start",
    "delete_running",
)
"""Operations in the order each actor performs them on its N VMs."""

Key = tuple[str, str, str, int]  # (transport, op, who, n)


@dataclass
class Results:
    """Every sample of one bench run, plus storage, memory and SSH connection counts."""

    times: dict[Key, Samples] = field(default_factory=lambda: defaultdict(Samples))
    # (transport, n) -> (allocated, apparent) bytes added per VM by create_defined
    storage: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    base_bytes: tuple[int, int] = (0, 0)
    # (transport, op, n) -> provider VmHWM KiB, max over repetitions
    memory_kib: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # (transport, op, who, n) -> SSH connections accepted by sshd during that run
    ssh_connections: dict[Key, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, key: Key, seconds: float) -> None:
        self.times[key].add(seconds)

    def to_json(self) -> dict[str, Any]:
        def keyed(mapping: Mapping[Any, Any]) -> dict[str, Any]:
            return {"|".join(map(str, k)): v for k, v in mapping.items()}

        return {
            "times": keyed({k: v.values for k, v in self.times.items()}),
            "storage": keyed(self.storage),
            "base_bytes": list(self.base_bytes),
            "memory_kib": keyed(self.memory_kib),
            "ssh_connections": keyed(self.ssh_connections),
        }

    def merge_json(self, data: dict[str, Any]) -> None:
        """Add a saved run (``to_json``) to these results."""

        def key(text: str) -> tuple[Any, ...]:
            return tuple(int(p) if p.isdigit() else p for p in text.split("|"))

        for k, values in data["times"].items():
            for value in values:
                self.add(key(k), value)  # type: ignore[arg-type]
        self.storage.update({key(k): tuple(v) for k, v in data["storage"].items()})  # type: ignore[misc]
        self.base_bytes = tuple(data["base_bytes"])  # type: ignore[assignment]
        self.memory_kib.update({key(k): v for k, v in data["memory_kib"].items()})  # type: ignore[misc]
        for k, counts in data["ssh_connections"].items():
            self.ssh_connections[key(k)].extend(counts)  # type: ignore[index]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Bench:
    """Runs the cycle for one transport at one N, ``reps`` times."""

    world: World
    transport: str
    results: Results
    sshd: PrivateSshd | None = None  # over SSH: the server, to count accepted connections
    peer: bool = True
    running: bool = True  # False: only the defined cycle (create, no-op preview, delete)

    def _connections(self) -> int:
        return 0 if self.sshd is None else self.sshd.accepted_connections()

    def _measure(self, op: str, who: str, n: int, fn: Callable[[], None]) -> None:
        before = self._connections()
        seconds, _ = timed(fn)
        self.results.add((self.transport, op, who, n), seconds)
        if self.sshd is not None:
            key = (self.transport, op, who, n)
            self.results.ssh_connections[key].append(self._connections() - before)
        if who == "subject":
            peak = MEMORY.take()
            if peak is not None:
                mkey = (self.transport, op, n)
                self.results.memory_kib[mkey] = max(peak, self.results.memory_kib.get(mkey, 0))
        log(f"  {self.transport:5} n={n:<3} {who:7} {op:15} {seconds:8.3f}s")

    def run(self, n: int, reps: int) -> None:
        for rep in range(reps):
            actors = [self._subject, self._floor]
            if rep % 2:
                actors.reverse()
            if self.peer:
                actors.insert(1, self._peer)
            for actor in actors:
                try:
                    actor(n)
                except Exception as exc:  # e.g. libvirtd restarted by a colleague: go on
                    log(f"  {self.transport} n={n} {actor.__name__} rep {rep} FAILED: {exc!r}")

    @contextlib.contextmanager
    def _tidy(self, tag: str) -> Iterator[None]:
        try:
            yield
        finally:
            self.world.cleanup(tag)

    def _subject(self, n: int) -> None:
        tag = "s" + self.transport[0]
        subject = Subject(self.world, tag, n)
        subject.state_file.unlink(missing_ok=True)
        with self._tidy(tag):
            self._measure("harness_fixed", "subject", n, subject.empty_preview)
            self._measure("create_defined", "subject", n, lambda: subject.up("defined"))
            self._storage(tag, n)
            self._measure("preview_noop", "subject", n, lambda: subject.preview("defined"))
            self._measure("delete_defined", "subject", n, subject.destroy)
            if not self.running:
                return
            self._measure("create_running", "subject", n, lambda: subject.up("running"))
            self._measure("stop", "subject", n, lambda: subject.up("stopped"))
            self._measure("start", "subject", n, lambda: subject.up("running"))
            self._measure("delete_running", "subject", n, subject.destroy)

    def _storage(self, tag: str, n: int) -> None:
        allocated, apparent = self.world.files_bytes(tag)
        self.results.storage[(self.transport, n)] = (allocated / n, apparent / n)
        self.results.base_bytes = self.world.base_bytes()

    def _floor(self, n: int) -> None:
        tag = "f" + self.transport[0]
        floor = Floor(
            self.world.uri,
            str(self.world.images_dir(tag)),
            str(self.world.base),
            self.world.names(tag, n),
        )
        with self._tidy(tag):
            self._measure("create_defined", "floor", n, lambda: floor.create(start=False))
            self._measure("preview_noop", "floor", n, floor.observe)
            self._measure("delete_defined", "floor", n, floor.delete)
            if not self.running:
                return
            self._measure("create_running", "floor", n, lambda: floor.create(start=True))
            self._measure("stop", "floor", n, floor.stop)
            self._measure("start", "floor", n, floor.start)
            self._measure("delete_running", "floor", n, floor.delete)

    def _peer(self, n: int) -> None:
        tag = "p" + self.transport[0]
        with self._tidy(tag), peer.boot_pool_guard(self.world):
            self._measure("create_running", "peer", n, lambda: peer.create(self.world, tag, n))
