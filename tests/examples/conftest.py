"""Fixtures that run the projects under ``examples/`` through the engine harness, against the
REAL local libvirtd.

The base disk is a blank 64 MiB qcow2 (booting a real guest is the e2e tests' job), passed
through the examples' ``basePath`` config; overlays and seed ISOs go to a per-test images dir.
Both live in a world-traversable directory under /var/tmp, because qemu runs as libvirt-qemu,
which cannot enter pytest's tmp_path. If libvirtd is unreachable the tests FAIL, never skip.
``libvirt_conn`` and ``bridge`` are ``tests/conftest.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.lab import Lab
from support.world import LOCAL_URI

from .examples_support import Stack


@pytest.fixture(scope="session")
def conn(libvirt_conn: libvirt.virConnect) -> libvirt.virConnect:
    return libvirt_conn


def _stack(
    example: str, request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    lab = Lab.new(
        "ex", request.node.nodeid, "{kind}-t{digest}", uri=LOCAL_URI, bridge=bridge, conn=conn
    )
    world = Stack(example, lab, lab.provider_config())
    world.set("vmName", world.vm_name)
    world.set("basePath", str(world.base))
    world.set("diskSizeGib", "1")
    world.set("memoryMib", "128")
    world.set("shutdownTimeoutS", "1")  # a blank disk ignores ACPI: don't wait long
    yield from world.lifetime()


@pytest.fixture
def minimal(
    request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    """A fresh stack of examples/minimal (default bridge, blank base, own images dir)."""
    yield from _stack("minimal", request, conn, bridge)


@pytest.fixture
def stopped(
    request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    """A fresh stack of examples/stopped (default bridge, blank base, own images dir)."""
    yield from _stack("stopped", request, conn, bridge)
