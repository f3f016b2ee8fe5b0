"""Fixtures: real docker-registries on free loopback ports, a layout directory, images.

The registry is Debian's ``docker-registry`` (install with ``.ci/registry.sh``; see
:mod:`support.registry`). If it cannot start the tests fail: a skipped registry test would
hide a broken backend. Two run per session: the open one (``registry``, from
``tests/conftest.py``, shared with curator_vm), and one behind htpasswd (HTTP Basic) with a
random password.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.registry import Registry, running_registry

from pulumi_vigo_vm.curator.store import ArtifactStore, open_store


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry only user ``vigo`` may use, with a password made up for this run."""
    base = tmp_path_factory.mktemp("auth-registry")
    with running_registry(base, user="vigo", password=secrets.token_urlsafe(24)) as reg:
        yield reg


@pytest.fixture
def docker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory: no ``docker login`` / ``oras login`` credentials at all.

    oras-py reads credentials from ``~/.docker/config.json`` only (``find_docker_config``
    expands ``~``; it does not look at ``$DOCKER_CONFIG``), so HOME is what points it here.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def docker_login(home: Path, host: str, user: str, password: str) -> None:
    """Store credentials the way ``docker login host`` / ``oras login host`` does."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = home / ".docker/config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"auths": {host: {"auth": token}}}))


@pytest.fixture(params=["layout", "registry", "auth_registry"])
def served_by(request: pytest.FixtureRequest) -> Registry | None:
    """What each flow test runs against: a layout directory (None), the open registry and,
    logged in with ``docker_login``, the registry that asks for a password."""
    if request.param == "layout":
        return None
    reg: Registry = request.getfixturevalue(request.param)
    if reg.user is not None and reg.password is not None:
        docker_login(request.getfixturevalue("docker_home"), reg.location, reg.user, reg.password)
    return reg


@pytest.fixture
def curator(served_by: Registry | None, tmp_path: Path) -> str:
    return str(tmp_path / "curator") if served_by is None else served_by.location


@pytest.fixture
def store(curator: str) -> ArtifactStore:
    return open_store(curator)


@pytest.fixture
def puddle() -> str:
    """A fresh puddle per test, so tests sharing the session registry never collide."""
    return "p" + uuid.uuid4().hex[:10]


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """Write a small random disk image (optionally with a qcow2 magic) and return its path."""

    def make(size: int = 64 * 1024, *, qcow2: bool = False, name: str | None = None) -> Path:
        path = tmp_path / (name or f"img-{uuid.uuid4().hex[:8]}")
        data = bytearray(os.urandom(size))
        if qcow2:
            data[:4] = b"QFI\xfb"
        path.write_bytes(bytes(data))
        return path

    return make
