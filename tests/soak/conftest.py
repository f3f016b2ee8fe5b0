"""Fixtures for the soak: a small mixed fleet (a base image from a file:// source, VMs
defined on it, a data disk each) on the REAL local libvirtd, driven through the engine
harness. ``libvirt_conn`` and ``bridge`` are ``tests/conftest.py``'s."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.lab import Lab
from support.world import LOCAL_URI

from .fleet import SoakFleet


@pytest.fixture
def fleet(
    bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[SoakFleet]:
    lab = Lab.new("soak", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    for world in lab.lifetime():
        yield SoakFleet(world)
