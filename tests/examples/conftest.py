"""Fixtures that run the projects under ``examples/`` through the engine harness, against the
REAL local libvirtd.

The base disk is a blank 64 MiB qcow2 (booting a real guest is the e2e tests' job), passed
through the examples' ``basePath`` config; overlays and seed ISOs go to a per-test images dir.
Both live in a world-traversable directory under /var/tmp, because qemu runs as libvirt-qemu,
which cannot enter pytest's tmp_path. If libvirtd is unreachable the tests FAIL, never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import libvirt
import pytest
from integration.conftest import bridge, libvirt_conn
from integration.vmlab import world_root

from .examples_support import LOCAL_URI, Stack

__all__ = ["bridge", "libvirt_conn"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "examples" in item.path.parts:
            item.add_marker(pytest.mark.libvirt)


@pytest.fixture(scope="session")
def conn(libvirt_conn: libvirt.virConnect) -> libvirt.virConnect:
    return libvirt_conn


def _stack(
    example: str, request: pytest.FixtureRequest, conn: libvirt.virConnect
) -> Iterator[Stack]:
    root, digest = world_root("ex", request.node.nodeid)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(root / "base.qcow2"), "64M"], check=True
    )
    world = Stack(example, root, f"ex-t{digest}-{example}", conn, {})
    world.config.update(
        {
            "vigo:uri": LOCAL_URI,
            "vigo:domainType": "qemu",  # no KVM needed
            "vigo:imagesDir": str(world.images_dir),
        }
    )
    world.set("vmName", world.vm_name)
    world.set("basePath", str(world.base))
    world.set("diskSizeGib", "1")
    world.set("memoryMib", "128")
    world.set("shutdownTimeoutS", "1")  # a blank disk ignores ACPI: don't wait long
    world.cleanup()
    yield world
    world.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def minimal(
    request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    """A fresh stack of examples/minimal (default bridge, blank base, own images dir)."""
    yield from _stack("minimal", request, conn)


@pytest.fixture
def stopped(
    request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    """A fresh stack of examples/stopped (default bridge, blank base, own images dir)."""
    yield from _stack("stopped", request, conn)
