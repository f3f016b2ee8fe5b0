"""Fixtures: a real docker-registry on a free loopback port, a layout directory, images.

The registry is Debian's ``docker-registry`` (install with ``.ci/registry.sh``). If it
cannot start the tests fail: a skipped registry test would hide a broken backend.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
    """A running docker-registry: where it listens and where it keeps its files."""

    location: str
    data: Path
    proc: subprocess.Popen[bytes]

    def blob_file(self, digest: str) -> Path:
        """The registry's own file for a blob (to corrupt it on purpose)."""
        hexdigest = digest.removeprefix("sha256:")
        return self.data / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.fail("docker-registry is not installed: run `bash .ci/registry.sh` first")
    base = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(base / "registry.log", "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"docker-registry exited: {(base / 'registry.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"docker-registry did not answer: {(base / 'registry.log').read_text()}")
        time.sleep(0.1)
    try:
        yield Registry(f"127.0.0.1:{port}", base / "data", proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(params=["layout", "registry"])
def curator(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each flow test runs once against a layout directory and once against the registry."""
    if request.param == "layout":
        return str(tmp_path / "curator")
    reg: Registry = request.getfixturevalue("registry")
    return reg.location


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
