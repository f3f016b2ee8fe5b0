"""Fixtures for tests against a REAL libvirtd, driven through the engine harness.

Nothing here is mocked: domains are defined in the local libvirtd (``domain_type='qemu'``,
so no KVM is needed), overlays are made by qemu-img, files live in a per-test directory.
If libvirtd is not reachable the tests FAIL: CI must never pass by skipping them. The
session fixtures (``libvirt_conn``, ``bridge``, ``ssh_uri``) and ``uri`` (local, and over ssh for
a test marked ``transport``) are
``tests/conftest.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.lab import Lab


@pytest.fixture
def lab(
    uri: str, bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A fresh world per test (see :func:`support.world.world_root`)."""
    lab = Lab.new("it", request.node.nodeid, uri=uri, bridge=bridge, conn=libvirt_conn)
    yield from lab.lifetime()
