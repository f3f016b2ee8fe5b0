"""An Open vSwitch bridge for tests: the daemons started for the test when none runs, a
userspace (``netdev``) bridge, everything the test started stopped and removed after.

libvirt plugs a NIC with ``<virtualport type='openvswitch'/>`` into a bridge by calling
``ovs-vsctl`` against the default database socket, so the database listens there. Its file
lives in a temporary directory, never in ``/etc/openvswitch``: the host's own Open vSwitch
configuration is not touched. The bridge's datapath is OVS's userspace one: this machine's
kernel has no ``openvswitch`` module, and a tap port on a ``netdev`` bridge works without
it. Nothing is forwarded anywhere: the bridge has no uplink. One user at a time on this
machine (a lock in ``/run/lock``): the test command runs two pytest sessions side by side,
and the one that started the daemons stops them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ovs_bridge", "port_tag"]

RUN_DIR = Path("/var/run/openvswitch")
DB_SOCKET = RUN_DIR / "db.sock"
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
LOCK = Path("/run/lock/vigo-openvswitch.lock")
_TIMEOUT_S = 30


def _vsctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ovs-vsctl", "--timeout=10", *args],
        check=check,
        timeout=_TIMEOUT_S,
        capture_output=True,
        text=True,
    )


def _running() -> bool:
    return DB_SOCKET.exists() and _vsctl("show", check=False).returncode == 0


def _stop(pidfile: Path) -> None:
    """Stop a daemon the test started, and wait until it is gone (it removes its socket)."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _TIMEOUT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie left for init to reap has ended: its socket is gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@contextlib.contextmanager
def _daemons() -> Iterator[None]:
    """Open vSwitch running: the host's own if it runs, else the test's, stopped after."""
    if _running():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="vigo-ovs-") as scratch:
        db, pids = Path(scratch) / "conf.db", Path(scratch)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ovsdb-tool", "create", str(db), str(SCHEMA)], check=True, timeout=30)
        started: list[Path] = []
        try:
            for argv in (
                ["ovsdb-server", str(db), f"--remote=punix:{DB_SOCKET}"],
                ["ovs-vswitchd", f"unix:{DB_SOCKET}"],
            ):
                pidfile = pids / f"{argv[0]}.pid"
                log = pids / f"{argv[0]}.log"
                subprocess.run(
                    [*argv, f"--pidfile={pidfile}", "--detach", f"--log-file={log}"],
                    check=True,
                    timeout=_TIMEOUT_S,
                    capture_output=True,
                )
                started.append(pidfile)
                if argv[0] == "ovsdb-server":
                    _vsctl("--no-wait", "init")
            deadline = time.monotonic() + _TIMEOUT_S
            while not _running():
                assert time.monotonic() < deadline, "Open vSwitch did not come up"
                time.sleep(0.2)
            yield
        finally:
            for pidfile in reversed(started):
                _stop(pidfile)


@contextlib.contextmanager
def ovs_bridge(name: str) -> Iterator[str]:
    """An Open vSwitch bridge ``name`` (userspace datapath, no uplink), deleted after."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released as the file closes
        with _daemons():
            _vsctl(
                "--may-exist", "add-br", name, "--", "set", "bridge", name, "datapath_type=netdev"
            )
            try:
                yield name
            finally:
                _vsctl("--if-exists", "del-br", name)


def port_tag(port: str) -> int | None:
    """The VLAN tag Open vSwitch gives ``port`` (None: untagged, a trunk)."""
    tag = _vsctl("get", "port", port, "tag").stdout.strip()
    return None if tag in ("", "[]") else int(tag)
