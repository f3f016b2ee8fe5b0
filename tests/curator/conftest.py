"""Fixtures: real docker-registries on free loopback ports, a layout directory, images.

The registry is Debian's ``docker-registry`` (install with ``.ci/registry.sh``). If it
cannot start the tests fail: a skipped registry test would hide a broken backend. Two run
per session: an open one, and one behind htpasswd (HTTP Basic) with a random password.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

from pulumi_vigo_vm.curator import open_store
from pulumi_vigo_vm.curator.store import ArtifactStore


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    """A running docker-registry: where it listens, where it keeps its files, who may log in."""

    location: str
    data: Path
    proc: subprocess.Popen[bytes]
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def blob_file(self, digest: str) -> Path:
        """The registry's own file for a blob (to corrupt it on purpose)."""
        hexdigest = digest.removeprefix("sha256:")
        return self.data / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"

    def has_repositories(self, puddle: str) -> bool:
        """Whether anything was ever pushed under ``puddle``."""
        return (self.data / "docker/registry/v2/repositories" / puddle).exists()


def _answers(port: int) -> int | None:
    """The HTTP status of ``GET /v2/`` (200 open, 401 asking to log in); None if no answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@contextmanager
def running_registry(
    base: Path, *, user: str | None = None, password: str | None = None
) -> Iterator[Registry]:
    """A docker-registry serving ``base/data`` on a free loopback port, until the block ends.

    With ``user`` and ``password`` it only lets that user in (htpasswd, HTTP Basic), as a
    registry behind ``docker login`` does; without, anyone may push and pull.
    """
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.fail("docker-registry is not installed: run `bash .ci/registry.sh` first")
    port = free_port()
    auth = ""
    if user is not None and password is not None:
        htpasswd = base / "htpasswd"
        # The registry checks the hash on every request: the cheapest cost keeps tests fast.
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{user}:{hashed}\n")
        auth = f"auth:\n  htpasswd:\n    realm: vigo-curator-tests\n    path: {htpasswd}\n"
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    ready = 401 if auth else 200
    log = open(base / "registry.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while (status := _answers(port)) != ready:
            if proc.poll() is not None:
                pytest.fail(f"docker-registry exited: {(base / 'registry.log').read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"docker-registry did not answer {ready} (last: {status}): "
                    f"{(base / 'registry.log').read_text()}"
                )
            time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", base / "data", proc, user, password)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open registry: no login."""
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


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
