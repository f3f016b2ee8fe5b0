"""Two processes materialising one artifact, and the leftovers of a killed download."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pulumi_vigo_vm.common.tempnames import TEMPORARY_MAX_AGE_S
from pulumi_vigo_vm.curator.manifest import sha256_digest
from pulumi_vigo_vm.curator.materialise import INCOMING, materialise
from pulumi_vigo_vm.curator.resolve import resolve
from pulumi_vigo_vm.curator.store import ArtifactStore, open_store
from pulumi_vigo_vm.hosts.local import LocalHost

from .hostile import Handler, hostile_registry, send
from .test_flow import MakeImage, publish
from .test_hostile import artifact_manifest

CHILD = """
import sys
from pulumi_vigo_vm.curator.materialise import materialise
from pulumi_vigo_vm.curator.resolve import resolve
from pulumi_vigo_vm.hosts.local import LocalHost
curator, root = sys.argv[1:3]
print(materialise(LocalHost(), resolve("p/base:1", curator, "", "linux-amd64"), root))
"""


def run_child(curator: str, root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, curator, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class RacedStore:
    """A real store whose blob download lets another *process* materialise first."""

    def __init__(self, inner: ArtifactStore, root: Path) -> None:
        self.inner, self.root = inner, root
        self.winner: os.stat_result | None = None

    @property
    def location(self) -> str:
        return self.inner.location

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        with self.inner.open_blob(repository, digest) as chunks:
            child = run_child(self.inner.location, self.root)
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            self.winner = os.stat(out.strip())
            yield chunks


def test_the_second_process_keeps_the_first_ones_file(
    tmp_path: Path, make_image: MakeImage
) -> None:
    curator, root = str(tmp_path / "c"), tmp_path / "artifacts"
    publish(open_store(curator), make_image(300_000), "p/base:1", "")
    resolved = resolve("p/base:1", curator, "", "linux-amd64")
    raced = RacedStore(open_store(curator), root)

    path = materialise(LocalHost(), resolved, str(root), store=raced)  # type: ignore[arg-type]

    assert raced.winner is not None, "the race did not happen"
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (raced.winner.st_ino, raced.winner.st_mtime_ns)
    assert sorted(p.name for p in Path(path).parent.rglob("*") if p.is_file()) == [
        "linux-amd64",
        "linux-amd64.sha256",
    ]

    # And once more, sequentially: untouched again.
    assert materialise(LocalHost(), resolved, str(root)) == path
    again = os.stat(path)
    assert (again.st_ino, again.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_a_killed_download_is_swept_by_the_next_one_and_nothing_else(tmp_path: Path) -> None:
    blob = os.urandom(200_000)
    root = tmp_path / "artifacts"
    with hostile_registry() as server:
        server.routes["/v2/p/base/manifests/1"] = lambda h: send(h, 200, artifact_manifest(blob))
        blob_path = f"/v2/p/base/blobs/{sha256_digest(blob)}"

        def stall(handler: Handler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(blob)))
            handler.end_headers()
            handler.wfile.write(blob[:100_000])
            handler.wfile.flush()
            time.sleep(20)

        server.routes[blob_path] = stall
        child = run_child(server.location, root)
        try:
            deadline = time.monotonic() + 20
            while not [p for p in root.rglob(f"{INCOMING}/*") if p.is_file()]:
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.05)
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate()
        (leftover,) = list(root.rglob(f"{INCOMING}/*"))
        incoming = leftover.parent
        old = time.time() - TEMPORARY_MAX_AGE_S - 60
        os.utime(leftover, (old, old))
        # Not ours by name, or ours but young: both must survive the sweep.
        foreign = incoming / "notes.txt"
        foreign.write_text("mine")
        os.utime(foreign, (old, old))
        young = incoming / f".linux-amd64.{'0' * 16}.abcdefgh.tmp"
        young.write_bytes(b"x")

        server.routes[blob_path] = lambda h: send(h, 200, blob)
        resolved = resolve("p/base:1", server.location, "", "linux-amd64")
        path = materialise(LocalHost(), resolved, str(root))

    assert Path(path).read_bytes() == blob
    assert not leftover.exists()
    assert sorted(p.name for p in incoming.iterdir()) == [young.name, foreign.name]
