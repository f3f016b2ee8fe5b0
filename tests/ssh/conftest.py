"""Fixtures: one private sshd for the session, and the same Host tests over local and SSH.

The sshd runs on 127.0.0.1, so a path in ``tmp_path`` is the same file for LocalHost and
SshHost: every Host assertion is written once and run against both implementations. The
``sshd`` fixture is ``tests/conftest.py``'s: the session's one private sshd.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_vigo_vm.hosts import LocalHost
from pulumi_vigo_vm.hosts.base import Host
from pulumi_vigo_vm.hosts.ssh import SshHost, ssh_host_for_uri
from pulumi_vigo_vm.testing.sshd import PrivateSshd


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An empty HOME and no agent, so the developer's ~/.ssh never decides a test's outcome."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def ssh_host(sshd: PrivateSshd) -> SshHost:
    """The process-wide cached host for the test sshd (one transport for the whole session)."""
    return ssh_host_for_uri(sshd.uri)


@pytest.fixture
def fresh_ssh_host(sshd: PrivateSshd) -> Iterator[SshHost]:
    """An uncached host with its own transport, closed after the test."""
    host = SshHost.from_uri(sshd.uri)
    yield host
    host.close()


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest) -> Host:
    """Each Host test runs twice: LocalHost and SshHost must behave the same."""
    if request.param == "local":
        return LocalHost()
    server: PrivateSshd = request.getfixturevalue("sshd")
    return ssh_host_for_uri(server.uri)
