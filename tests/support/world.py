"""The host the VM suites share: the local libvirtd, the bridge, and one world per test."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import libvirt
import pytest

TESTS = Path(__file__).resolve().parents[1]
BRIDGE = "vigobr0"
LOCAL_URI = "qemu:///system"


def world_root(kind: str, key: str) -> tuple[Path, str]:
    """A fresh directory for one test's world, and a short digest of ``key`` (a test id)
    to name its domains by. Under /var/tmp and world-traversable (unlike pytest's tmp_path)
    because qemu runs as an unprivileged user that must reach the disk files."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    root = Path(tempfile.mkdtemp(prefix=f"vigo-{kind}-{digest}-", dir="/var/tmp"))
    root.chmod(0o755)
    return root, digest


class World(Protocol):
    """Anything living in a :func:`world_root` that can remove what it put on the host."""

    @property
    def root(self) -> Path: ...

    def cleanup(self) -> None: ...


W = TypeVar("W", bound=World)


def lifetime(world: W) -> Iterator[W]:
    """A fixture's whole use of ``world`` (``yield from lifetime(world)``): leftovers of an
    earlier run of the same test removed first; domains and files removed after (root
    removes the read-only materialised bases too)."""
    world.cleanup()
    try:
        yield world
    finally:
        world.cleanup()
        shutil.rmtree(world.root, ignore_errors=True)


def open_libvirt() -> libvirt.virConnect:
    """A connection to the local libvirtd; the test FAILS (never skips) if it is down."""
    try:
        return libvirt.open(LOCAL_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd is not reachable at {LOCAL_URI} ({exc}); start it (see .ci/run)")


def ensure_bridge() -> str:
    """The host bridge for the VMs' NICs (created if missing: tests run as root)."""
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
    return BRIDGE
