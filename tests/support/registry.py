"""Real docker-registries on free loopback ports (Debian's ``docker-registry``, installed by
``.ci/registry.sh``). If one cannot start the test FAILS: a skipped registry test would hide
a broken backend."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest


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
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """SIGTERM ``proc``, then SIGKILL if it is still running ``grace_s`` later."""
    for send in (proc.terminate, proc.kill):
        send()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
            return
