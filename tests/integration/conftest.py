"""Fixtures for tests against a REAL libvirtd, driven through the engine harness.

Nothing here is mocked: domains are defined in the local libvirtd (``domain_type='qemu'``,
so no KVM is needed), overlays are made by qemu-img, files live in a per-test directory.
If libvirtd is not reachable the tests FAIL: CI must never pass by skipping them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts
from pulumi_vigo_vm.testing.sshd import PrivateSshd, SshdUnavailableError

from .vmlab import BRIDGE, LOCAL_URI, Lab, world_root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.libvirt)


@pytest.fixture(scope="session")
def libvirt_conn() -> libvirt.virConnect:
    try:
        return libvirt.open(LOCAL_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd is not reachable at {LOCAL_URI} ({exc}); start it (see .ci/run)")


@pytest.fixture(scope="session")
def bridge() -> str:
    """A host bridge for the VMs' NICs (created if missing: tests run as root)."""
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
    return BRIDGE


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    """A real private sshd on 127.0.0.1 whose host is this machine (and its libvirtd)."""
    try:
        server = PrivateSshd.start(tmp_path_factory.mktemp("sshd"))
    except SshdUnavailableError as exc:
        pytest.fail(f"cannot start the test sshd: {exc}", pytrace=False)
    yield server
    close_all_ssh_hosts()
    server.stop()


@pytest.fixture(scope="session")
def ssh_uri(sshd: PrivateSshd) -> str:
    """``qemu+ssh://root@127.0.0.1:<port>/system?...`` to the private sshd.

    Files, qemu-img and libvirt all ride on one paramiko connection, which trusts only the
    URI's ``known_hosts=`` file: nothing is added to root's own known_hosts.
    """
    return sshd.uri


@pytest.fixture(params=["local", "ssh"])
def uri(request: pytest.FixtureRequest) -> str:
    """Every lifecycle and drift test runs against qemu:///system and over qemu+ssh."""
    if request.param == "local":
        return LOCAL_URI
    return str(request.getfixturevalue("ssh_uri"))


@pytest.fixture
def lab(
    uri: str, bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A fresh world per test (see :func:`vmlab.world_root`)."""
    root, digest = world_root("it", request.node.nodeid)
    yield from Lab(root, uri, bridge, libvirt_conn, prefix=f"it{digest}").lifetime()
