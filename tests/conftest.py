"""What every suite may use: the session's shared daemons (the local libvirtd and bridge, an
isolated libvirt network, one private sshd, one open docker-registry), built on
:mod:`support`, and the ``uri`` each test runs against (its tier, see docs/testing.md). If
any daemon cannot be reached or started the tests that use it FAIL: CI must never pass by
skipping them.

Markers are written on the tests (``pytestmark`` or a decorator), never added here; this
file only refuses a collection whose markers contradict what the tests use (see
:func:`pytest_collection_modifyitems`).
"""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from support.network import IsolatedNetwork, NetworkUnavailable, isolated_network
from support.registry import Registry, running_registry
from support.sshd import running_sshd
from support.twohost import RigError, TwoHosts, running_two_hosts
from support.world import LOCAL_URI, ensure_bridge, open_libvirt

from pulumi_vigo_vm.testing.sshd import PrivateSshd

MARKED_BY_FIXTURE = {"libvirt_conn": "libvirt", "two_hosts": "libvirt", "base_image": "slow"}
"""A test using the fixture must carry the marker: the connection to libvirtd (or to the
two-host rig's two), and the real guest image (only a test that boots a guest asks for it)."""

TRANSPORTS = ("local", "ssh")
"""The ``uri`` params of a test marked ``transport``; any other test gets the first only."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that asks for ``uri`` runs over both transports when marked ``transport``, and
    once (locally) otherwise: the rule of docs/testing.md, "Tiers and markers"."""
    own = {
        name.strip()
        for mark in metafunc.definition.iter_markers("parametrize")
        for name in (mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0])
    }
    if "uri" in metafunc.fixturenames and "uri" not in own:  # not a test's own ``uri`` values
        marked = metafunc.definition.get_closest_marker("transport") is not None
        metafunc.parametrize("uri", TRANSPORTS if marked else TRANSPORTS[:1], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fail the collection, naming each test and the fix, when a marker is missing (a test
    on libvirtd not marked ``libvirt``, a guest boot not marked ``slow``) or meaningless
    (``transport`` on a test that has no ``uri`` to vary)."""
    wrong = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        marks = {mark.name for mark in item.iter_markers()}
        for fixture, mark in MARKED_BY_FIXTURE.items():
            if fixture in fixtures and mark not in marks:
                wrong.append(f"{item.nodeid}: uses {fixture}, so mark it {mark}")
        if "transport" in marks and "uri" not in fixtures:
            wrong.append(f"{item.nodeid}: marked transport but uses no uri; unmark it")
    if wrong:
        raise pytest.UsageError("markers do not match the tests:\n  " + "\n  ".join(wrong))


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


@pytest.fixture
def uri(request: pytest.FixtureRequest) -> str:
    """A suite's libvirt URI: qemu:///system, and for a test marked ``transport`` also
    qemu+ssh to the private sshd (this machine, through SSH); see
    :func:`pytest_generate_tests`."""
    if request.param == "local":
        return LOCAL_URI
    return str(request.getfixturevalue("ssh_uri"))


@pytest.fixture(scope="session")
def two_hosts() -> Iterator[TwoHosts]:
    """Two hosts on this machine: A is the local libvirtd, B a second libvirtd in its own
    namespaces with an sshd on a veth address (tests/support/twohost, docs/testing.md "Two
    hosts"), built from nothing and torn down completely after the session. FAILS (never
    skips) if it cannot be built."""
    try:
        with running_two_hosts() as rig:
            yield rig
    except RigError as exc:
        pytest.fail(f"cannot build the two-host rig: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open docker-registry: no login."""
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg
