"""Fixtures for VigoDisk against a REAL libvirtd and real qemu-img, through the engine
harness, locally (and over qemu+ssh when marked ``transport``, see docs/testing.md).
Nothing is mocked; domains that use the disks are defined with plain libvirt
(``domain_type='qemu'``, no OS: a started one still runs)."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.lab import Lab

from .disklab import DiskLab


@pytest.fixture
def disks(
    uri: str, bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[DiskLab]:
    """A fresh world per test: its disks, and the foreign domains its test defines."""
    lab = Lab.new("dk", request.node.nodeid, uri=uri, bridge=bridge, conn=libvirt_conn)
    for world in lab.lifetime():
        yield DiskLab(world)
