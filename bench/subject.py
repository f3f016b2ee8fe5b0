"""The subject: the provider driven through the engine harness, exactly as the engine would.

Every verb is one harness run: a program child process (the language host) plus one
``python -m pulumi.dynamic`` provider process, Check/Diff/Create/... over gRPC. The wall
time therefore includes that fixed start-up, which :meth:`Subject.empty_preview` measures
(a preview declaring one new VM) so the report can show provider cost with and without it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pulumi_vigo_vm.testing import EngineHarness
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

from .world import World

PROGRAM = Path(__file__).resolve().parent.parent / "tests" / "integration" / "program"


@dataclass
class ProviderMemory:
    """Peak resident memory (VmHWM, KiB) of each provider process, read just before it ends,
    and its CPU time (user + system, its own: not its qemu-img children)."""

    peaks_kib: list[int] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take_cpu(self) -> float | None:
        with self._lock:
            last = self.cpu_seconds[-1] if self.cpu_seconds else None
            self.cpu_seconds.clear()
            return last

    def take(self) -> int | None:
        """The peak of the most recent provider process (and forget the others)."""
        with self._lock:
            last = self.peaks_kib[-1] if self.peaks_kib else None
            self.peaks_kib.clear()
            return last


MEMORY = ProviderMemory()


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _install_memory_probe() -> None:
    """Wrap DynamicProviderHost.close (in this process only) to read the provider's VmHWM."""
    original = DynamicProviderHost.close
    if getattr(original, "_bench_probe", False):
        return

    def close(self: DynamicProviderHost) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            peak, cpu = _vm_hwm_kib(proc.pid), _cpu_seconds(proc.pid)
            with MEMORY._lock:
                if peak is not None:
                    MEMORY.peaks_kib.append(peak)
                if cpu is not None:
                    MEMORY.cpu_seconds.append(cpu)
        original(self)

    close._bench_probe = True  # type: ignore[attr-defined]
    DynamicProviderHost.close = close  # type: ignore[method-assign]


_install_memory_probe()


@dataclass
class Subject:
    """One stack of ``n`` VMs named ``bench-<tag>-*`` on ``world.uri``."""

    world: World
    tag: str
    n: int

    @property
    def state_file(self) -> Path:
        return self.world.root / f"state-{self.tag}.json"

    def harness(self, state: str, n: int | None = None) -> EngineHarness:
        count = self.n if n is None else n
        config = {
            "test:vms": json.dumps(self.world.declarations(self.tag, count, state)),
            "vigo:uri": self.world.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.world.images_dir(self.tag)),
        }
        return EngineHarness(PROGRAM, state_file=self.state_file, config=config)

    def up(self, state: str) -> None:
        """``pulumi up`` declaring all N VMs in ``state`` (create, or a run-state update)."""
        result = self.harness(state).up()
        assert result.ok, result.errors

    def preview(self, state: str) -> None:
        """``pulumi preview`` of the unchanged stack: Check + Diff (live observation) per VM."""
        result = self.harness(state).preview()
        assert result.ok, result.errors
        changed = {name: op for name, op in result.ops().items() if op != "same"}
        assert not changed, f"preview of an unchanged stack planned {changed}"

    def destroy(self) -> None:
        result = self.harness("defined").destroy()
        assert result.ok, result.errors

    def empty_preview(self) -> None:
        """The harness's fixed cost per run: program process start, provider process start,
        Configure, and one Check. A preview of a stack declaring one NEW VM does exactly that
        (preview never creates; Check never touches the host). A truly empty stack is not
        used: the harness then ends before its provider has started (and leaks it)."""
        fresh = self.world.root / f"state-{self.tag}-fixed.json"
        fresh.unlink(missing_ok=True)
        config = {
            "test:vms": json.dumps(self.world.declarations(self.tag + "x", 1, "defined")),
            "vigo:uri": self.world.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.world.images_dir(self.tag)),
        }
        result = EngineHarness(PROGRAM, state_file=fresh, config=config).preview()
        assert result.ok and set(result.ops().values()) == {"create"}, result.ops()
