"""Processes the rig started, known by pid AND start time, so a teardown (perhaps from another
process, ``twohost down``) signals only its own and never a reused pid; and host commands
with deadlines."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class RigError(RuntimeError):
    """The rig could not be built or torn down; the message says what and how to fix it."""


def run(argv: Sequence[str], *, timeout: float = 60, check: bool = True) -> str:
    """Run a host command, its stdout returned; RigError naming it and its stderr on failure."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RigError(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        raise RigError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if there is no process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


@dataclass(frozen=True)
class Proc:
    """A process by pid and start time (clock ticks since boot, /proc/PID/stat field 22)."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc:
        fields = _stat(pid)
        if fields is None:
            raise RigError(f"process {pid} exited before the rig could record it")
        return cls(pid, int(fields[19]))

    def alive(self) -> bool:
        """Running (not a zombie) and still the process we started."""
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(self.pid, os.WNOHANG)
        fields = _stat(self.pid)
        return fields is not None and fields[0] != "Z" and int(fields[19]) == self.start

    def kill(self, *, group: bool = False, timeout: float = 30) -> None:
        """SIGKILL it (its process group when ``group``) if it is still ours, and wait until
        it is gone."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL) if group else os.kill(self.pid, signal.SIGKILL)
        wait_until(lambda: not self.alive(), timeout, f"process {self.pid} to exit")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        with contextlib.suppress(FileNotFoundError):
            return [int(pid) for pid in path.read_text().split()]
        return []


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``done()`` until true; RigError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RigError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def succeeds(argv: Sequence[str], *, timeout: float = 30) -> bool:
    """Whether a host command exits 0 within ``timeout`` (a readiness probe)."""
    try:
        run(argv, timeout=timeout)
    except RigError:
        return False
    return True


def tool(name: str) -> str:
    """The path of a host binary (sbin included), or RigError naming the package to install."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise RigError(f"{name} not found; scripts/setup-host.sh installs it")
    return found
