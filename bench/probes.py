"""The environment that switches on ``bench/probe/sitecustomize.py`` in the harness's child
processes (the program and the provider), and the reading of what it logged."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

PROBE_DIR = Path(__file__).resolve().parent / "probe"


def probe_env(
    *, call_log: Path | None = None, cap: str | None = None, profile: Path | None = None
) -> dict[str, str]:
    """Extra environment for an ``EngineHarness``: the probe on ``PYTHONPATH`` (ahead of the
    caller's), libvirt calls logged to ``call_log``, ``cap`` ("provider"/"program")
    left unwidened, and the provider's RPCs profiled into the directory ``profile``."""
    path = os.pathsep.join(p for p in (str(PROBE_DIR), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path}
    if call_log is not None:
        env["VIGO_BENCH_CALL_LOG"] = str(call_log)
    if cap is not None:
        env["VIGO_BENCH_CAP"] = cap
    if profile is not None:
        env["VIGO_BENCH_PROFILE"] = str(profile)
    return env


def calls_per_connection(call_log: Path) -> dict[str, Counter[str]]:
    """Connection (its URI and identity) -> libvirt method -> calls, from a call log."""
    found: dict[str, Counter[str]] = {}
    if not call_log.exists():
        return found
    for line in call_log.read_text().splitlines():
        _pid, connection, method = line.split(" ", 2)
        found.setdefault(connection, Counter())[method] += 1
    return found
