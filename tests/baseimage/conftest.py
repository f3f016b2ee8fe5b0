"""Fixtures for VigoBaseImage against a REAL libvirtd and real files, through the engine
harness: an HTTP server on 127.0.0.1 serves the images (nothing leaves the machine), every
test runs against qemu:///system, and a test marked ``transport`` also over qemu+ssh:// (the
private sshd, whose host is this machine; see docs/testing.md). ``libvirt_conn``,
``bridge`` and ``ssh_uri`` are ``tests/conftest.py``'s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab

from .bench import Bench, qcow2_bytes
from .server import ImageServer


@pytest.fixture
def server() -> Iterator[ImageServer]:
    with ImageServer().running() as running:
        yield running


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Two different standalone qcow2 images (``a``: 16 MiB virtual, ``b``: 32 MiB)."""
    directory: Path = tmp_path_factory.mktemp("images")
    return {"a": qcow2_bytes(directory, "16M"), "b": qcow2_bytes(directory, "32M")}


@pytest.fixture
def bench(
    uri: str,
    bridge: str,
    libvirt_conn: libvirt.virConnect,
    server: ImageServer,
    request: pytest.FixtureRequest,
) -> Iterator[Bench]:
    lab = Lab.new("bi", request.node.nodeid, uri=uri, bridge=bridge, conn=libvirt_conn)
    yield from Bench(lab, server).lifetime()
