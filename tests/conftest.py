"""What every suite may use: the ``libvirt`` marker on the suites that need libvirtd, and
the session's shared daemons (the local libvirtd and bridge, an isolated libvirt network,
one private sshd, one open docker-registry), built on :mod:`support`. If any of them cannot
be reached or started the tests that use it FAIL: CI must never pass by skipping them.
"""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.network import IsolatedNetwork, NetworkUnavailable, isolated_network
from support.registry import Registry, running_registry
from support.sshd import running_sshd
from support.world import LOCAL_URI, TESTS, ensure_bridge, open_libvirt

from pulumi_vigo_vm.testing.sshd import PrivateSshd

LIBVIRT_SUITES = frozenset(
    {"compat", "curator_vm", "disks", "e2e", "examples", "integration", "reliability", "soak"}
)
"""The directories under tests/ whose every test talks to a real libvirtd."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        if parts and parts[0] in LIBVIRT_SUITES:
            item.add_marker(pytest.mark.libvirt)


@pytest.fixture(scope="session")
def libvirt_conn() -> libvirt.virConnect:
    return open_libvirt()


@pytest.fixture(scope="session")
def bridge() -> str:
    """A host bridge for the VMs' NICs (created if missing: tests run as root)."""
    return ensure_bridge()


@pytest.fixture(scope="session", name="isolated_network")
def isolated_network_fixture(libvirt_conn: libvirt.virConnect) -> Iterator[IsolatedNetwork]:
    """A transient libvirt network with DHCP and no ``<forward>`` (nothing leaves the host),
    on its own /24 of 198.18.0.0/15 (``.name``, ``.subnet``, ``.bridge``, DHCP range); gone
    at the end of the session. FAILS (never skips) if libvirt cannot start networks."""
    try:
        with isolated_network(libvirt_conn) as net:
            yield net
    except NetworkUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    """A real private sshd on 127.0.0.1 whose host is this machine (and its libvirtd)."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def ssh_uri(sshd: PrivateSshd) -> str:
    """``qemu+ssh://root@127.0.0.1:<port>/system?...`` to the private sshd.

    Files, qemu-img and libvirt all ride on one paramiko connection, which trusts only the
    URI's ``known_hosts=`` file: nothing is added to root's own known_hosts.
    """
    return sshd.uri


@pytest.fixture(params=["local", "ssh"])
def uri(request: pytest.FixtureRequest) -> str:
    """A suite's libvirt URI: every test that asks for it runs against qemu:///system and
    over qemu+ssh to the private sshd (this machine, through SSH)."""
    if request.param == "local":
        return LOCAL_URI
    return str(request.getfixturevalue("ssh_uri"))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open docker-registry: no login."""
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg
