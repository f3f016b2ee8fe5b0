"""Fixtures for the reliability suite: faults, hostile input, secrets, against a REAL libvirtd.

Every scenario must end proving two things: nothing the user had was lost, and the next
``up`` converged with no orphan domain, overlay, seed ISO or temporary file (see
:class:`support.lab.Lab`). Domain names start with ``rel`` (other suites share this
libvirtd). Prerequisites missing (libvirtd, qemu-img, mount, sshd) FAIL the tests; nothing
skips. ``bridge`` and ``sshd`` are ``tests/conftest.py``'s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import libvirt
import pytest
from support.lab import PROGRAM, Lab
from support.world import LOCAL_URI, open_libvirt

from pulumi_vigo_vm.testing import props as harness_props
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

from .rellab import CheckRpc, ProviderLog


@pytest.fixture
def libvirt_conn() -> Iterator[libvirt.virConnect]:
    """This test's own connection: one test here restarts libvirtd, which kills every
    connection open at the time, so none is shared across tests."""
    conn = open_libvirt()
    yield conn
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()


@pytest.fixture
def rlab(
    bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A fresh local world per test, domain names ``rel<digest>-...``."""
    lab = Lab.new("rel", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    yield from lab.lifetime()


@pytest.fixture
def provider_log(monkeypatch: pytest.MonkeyPatch) -> ProviderLog:
    captured = ProviderLog()
    original_close = DynamicProviderHost.close

    def close(self: DynamicProviderHost) -> None:
        original_close(self)  # the process exits first: its last lines are then in the log
        captured.lines += list(self._log)

    monkeypatch.setattr(DynamicProviderHost, "close", close)
    return captured


@pytest.fixture
def unredacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn off the harness's own redaction of secrets, so a leak is not hidden by it."""
    monkeypatch.setattr(harness_props, "redact", lambda message, _secrets: message)


@pytest.fixture(scope="module")
def check_rpc() -> Iterator[CheckRpc]:
    """A provider process configured like the Lab's stacks, for many Check calls."""
    config = {
        "vigo:uri": LOCAL_URI,
        "vigo:domainType": "qemu",
        "vigo:imagesDir": "/var/tmp/vigo-rel-never-written",
    }
    host = DynamicProviderHost(config=config, env=dict(os.environ), cwd=str(PROGRAM))
    host.start()
    try:
        yield CheckRpc(host)
    finally:
        host.close()
