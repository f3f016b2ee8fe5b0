"""Fixtures for VigoSnapshot against a REAL libvirtd and real qcow2 files, through the
engine harness. Nothing is mocked: the VMs are VigoVms on blank disks (``domain_type='qemu'``,
mostly defined or stopped: an offline snapshot needs no boot), the snapshots libvirt's."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.lab import Lab
from support.snapshots import SnapshotLab
from support.world import LOCAL_URI


@pytest.fixture
def snaps(
    bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[SnapshotLab]:
    """A fresh world per test, local (the transport changes no libvirt call)."""
    lab = Lab.new("sn", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    for world in lab.lifetime():
        yield SnapshotLab(world)


@pytest.fixture
def snaps_both(
    uri: str, bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[SnapshotLab]:
    """:func:`snaps`, locally and over qemu+ssh: for what also runs host commands (qemu-img
    through the Host abstraction) besides libvirt calls."""
    lab = Lab.new("sn", request.node.nodeid, uri=uri, bridge=bridge, conn=libvirt_conn)
    for world in lab.lifetime():
        yield SnapshotLab(world)
