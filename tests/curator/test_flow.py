"""push -> resolve -> materialise, against a layout directory and real docker-registries
(open, and behind a password with the user logged in)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.registry import Registry, free_port

from pulumi_vigo_vm.curator.manifest import MEDIA_TYPE_QCOW2, MEDIA_TYPE_RAW
from pulumi_vigo_vm.curator.materialise import materialise, sidecar_path
from pulumi_vigo_vm.curator.push import push_generic
from pulumi_vigo_vm.curator.reference import parse_reference
from pulumi_vigo_vm.curator.resolve import ResolvedArtifact, resolve
from pulumi_vigo_vm.curator.store import ArtifactStore, open_store
from pulumi_vigo_vm.errors import CuratorError
from pulumi_vigo_vm.hosts.local import LocalHost

MakeImage = Callable[..., Path]


class CountingStore:
    """Delegates to a real store and counts blob fetches (to prove 'fetched once')."""

    def __init__(self, inner: ArtifactStore, delay: float = 0.0) -> None:
        self.inner, self.fetches, self.delay = inner, 0, delay
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    @property
    def location(self) -> str:
        return self.inner.location

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        with self._lock:
            self.fetches += 1
        time.sleep(self.delay)
        with self.inner.open_blob(repository, digest) as chunks:
            yield chunks


def publish(
    store: ArtifactStore, image: Path, ref: str, puddle: str, platform: str = "linux/amd64"
):
    return push_generic(store, parse_reference(ref), str(image), puddle, platform)


def leftovers(root: Path) -> list[str]:
    """Temporary files a writer left behind (there must be none)."""
    return [p.name for p in root.rglob(".*") if p.is_file()]


def test_push_resolve_materialise(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image(200_000, qcow2=True)
    pushed = publish(store, image, "ubuntu-22.04-cloud:1.4", puddle)
    assert pushed.uploaded and pushed.media_type == MEDIA_TYPE_QCOW2

    for text in (
        "ubuntu-22.04-cloud:1.4",
        "ubuntu-22.04-cloud@1.4",
        f"{puddle}/ubuntu-22.04-cloud:1.4",
    ):
        resolved = resolve(text, curator, puddle, "linux-amd64")
        assert resolved.artifact_id == pushed.artifact_id
    manifest = store.get_manifest(f"{puddle}/ubuntu-22.04-cloud", "1.4")
    assert manifest is not None and hashlib.sha256(manifest).hexdigest() == pushed.artifact_id
    assert resolved.digest == "sha256:" + hashlib.sha256(image.read_bytes()).hexdigest()
    assert (resolved.size, resolved.media_type, resolved.platform) == (
        200_000,
        MEDIA_TYPE_QCOW2,
        "linux-amd64",
    )
    assert ResolvedArtifact.from_dict(json.loads(json.dumps(resolved.to_dict()))) == resolved

    root = tmp_path / "artifacts"
    path = materialise(LocalHost(), resolved, str(root))
    assert path == f"{root}/{pushed.artifact_id}/ubuntu-22.04-cloud/1.4/linux-amd64"
    assert Path(path).read_bytes() == image.read_bytes()
    assert os.stat(path).st_mode & 0o777 == 0o444
    sidecar = Path(sidecar_path(path)).read_text()
    assert sidecar == f"{resolved.digest.removeprefix('sha256:')}  linux-amd64\n"
    assert leftovers(root) == []

    # Idempotent: the second call returns at once and never fetches.
    counting = CountingStore(store)
    assert materialise(LocalHost(), resolved, str(root), store=counting) == path
    assert counting.fetches == 0


def test_platforms_are_layers_of_one_artifact(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage
) -> None:
    amd, arm = make_image(), make_image()
    first = publish(store, amd, "deb:12", puddle)
    second = publish(store, arm, "deb:12", puddle, "linux/arm64")
    assert second.artifact_id != first.artifact_id
    r_amd = resolve("deb:12", curator, puddle, "linux-amd64")
    r_arm = resolve("deb:12", curator, puddle, "linux/arm64")
    assert r_amd.artifact_id == r_arm.artifact_id == second.artifact_id
    assert (r_amd.media_type, r_amd.digest) == (MEDIA_TYPE_RAW, first.digest)
    assert r_arm.digest == second.digest
    with pytest.raises(
        CuratorError, match=r"has no linux-s390x image \(it has: linux-amd64, linux-arm64\)"
    ):
        resolve("deb:12", curator, puddle, "linux-s390x")
    # Pushing identical content again changes nothing: the manifest is canonical.
    again = publish(store, arm, "deb:12", puddle, "linux/arm64")
    assert again.artifact_id == second.artifact_id and not again.uploaded


def test_retag_changes_artifact_id_and_pins_notice(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage
) -> None:
    old = publish(store, make_image(), "u:1.4", puddle)
    pinned_old = f"{old.artifact_id[:8]}/u@1.4"
    assert resolve(pinned_old, curator, puddle, "linux-amd64").artifact_id == old.artifact_id
    assert (
        resolve(f"{old.artifact_id}/u@1.4", curator, puddle, "linux-amd64").artifact_id
        == old.artifact_id
    )

    new = publish(store, make_image(), "u:1.4", puddle)
    assert new.artifact_id != old.artifact_id
    assert resolve("u:1.4", curator, puddle, "linux-amd64").artifact_id == new.artifact_id
    with pytest.raises(
        CuratorError, match=f"pinned id {old.artifact_id[:8]} does not match"
    ) as info:
        resolve(pinned_old, curator, puddle, "linux-amd64")
    assert new.artifact_id in str(info.value)
    assert (
        resolve(f"{new.artifact_id[:12]}/u@1.4", curator, puddle, "linux-amd64").artifact_id
        == new.artifact_id
    )


def test_unknown_artifact(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage
) -> None:
    publish(store, make_image(), "u:1", puddle)
    for text in ("u:2", "nope:1", "elsewhere/u:1"):
        with pytest.raises(CuratorError, match="does not exist"):
            resolve(text, curator, puddle, "linux-amd64")


def test_push_refuses_pinned_reference(
    store: ArtifactStore, puddle: str, make_image: MakeImage
) -> None:
    with pytest.raises(CuratorError, match="cannot push to pinned reference"):
        publish(store, make_image(), "e3810a25/u@1", puddle)


def corrupt(curator: str, registry: Registry | None, resolved: ResolvedArtifact) -> None:
    """Flip bytes of the stored blob, keeping its size."""
    if registry is None:
        blob = Path(curator) / resolved.repository / "blobs/sha256" / resolved.digest[7:]
    else:
        blob = registry.blob_file(resolved.digest)
    data = bytearray(blob.read_bytes())
    data[100:110] = b"x" * 10
    blob.write_bytes(bytes(data))


def test_corrupted_blob_is_refused(
    served_by: Registry | None,
    store: ArtifactStore,
    curator: str,
    puddle: str,
    make_image: MakeImage,
    tmp_path: Path,
) -> None:
    publish(store, make_image(), "u:1", puddle)
    resolved = resolve("u:1", curator, puddle, "linux-amd64")
    corrupt(curator, served_by, resolved)
    root = tmp_path / "artifacts"
    with pytest.raises(CuratorError, match="is corrupt: expected 65536 bytes with that digest"):
        materialise(LocalHost(), resolved, str(root))
    assert not Path(resolved.path(str(root))).exists()
    assert leftovers(root) == []


def test_registry_down_is_clear_and_writes_nothing(
    registry: Registry, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(
        CuratorError, match=rf"curator registry http://{dead} is unreachable .*check vigo:curator"
    ):
        resolve("u:1", dead, puddle, "linux-amd64")
    assert time.monotonic() - started < 5  # no sleeping retry loop

    store = open_store(registry.location)
    publish(store, make_image(), "u:1", puddle)
    resolved = dataclasses.replace(
        resolve("u:1", registry.location, puddle, "linux-amd64"), curator=dead
    )
    root = tmp_path / "artifacts"
    with pytest.raises(CuratorError, match="is unreachable"):
        materialise(LocalHost(), resolved, str(root))
    assert not root.exists()  # the curator is asked before the host is touched


def test_download_breaking_off_leaves_nothing(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    publish(store, make_image(300_000), "u:1", puddle)
    resolved = resolve("u:1", curator, puddle, "linux-amd64")

    class Breaking(CountingStore):
        @contextmanager
        def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
            def chunks() -> Iterator[bytes]:
                yield b"\0" * 1000
                raise CuratorError("download broke off")

            yield chunks()

    root = tmp_path / "artifacts"
    with pytest.raises(CuratorError, match="broke off"):
        materialise(LocalHost(), resolved, str(root), store=Breaking(store))
    assert not Path(resolved.path(str(root))).exists()
    assert leftovers(root) == []


def test_existing_file_with_wrong_content_is_an_error(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image()
    publish(store, image, "u:1", puddle)
    resolved = resolve("u:1", curator, puddle, "linux-amd64")
    root = tmp_path / "artifacts"
    path = Path(resolved.path(str(root)))
    path.parent.mkdir(parents=True)
    host = LocalHost()

    # Right content, no sidecar (e.g. a crash before it was written): verified, then adopted.
    path.write_bytes(image.read_bytes())
    counting = CountingStore(store)
    assert materialise(host, resolved, str(root), store=counting) == str(path)
    assert counting.fetches == 0 and Path(sidecar_path(str(path))).exists()

    # Same size, other bytes, no sidecar: refused, not overwritten.
    Path(sidecar_path(str(path))).unlink()
    path.chmod(0o644)
    path.write_bytes(os.urandom(resolved.size))
    before = path.read_bytes()
    with pytest.raises(CuratorError, match="is not this artifact"):
        materialise(host, resolved, str(root), store=counting)
    assert path.read_bytes() == before and counting.fetches == 0

    # Wrong size: refused at once.
    path.write_bytes(b"short")
    with pytest.raises(CuratorError, match="has 5 bytes but artifact"):
        materialise(host, resolved, str(root))

    # A sidecar naming another digest: refused.
    path.write_bytes(image.read_bytes())
    Path(sidecar_path(str(path))).write_text("00" * 32 + "  linux-amd64\n")
    with pytest.raises(CuratorError, match="is recorded with sha256 0000"):
        materialise(host, resolved, str(root))


def test_concurrent_threads_fetch_once(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image(2 << 20)
    publish(store, image, "u:1", puddle)
    resolved = resolve("u:1", curator, puddle, "linux-amd64")
    counting = CountingStore(store, delay=0.05)
    root = str(tmp_path / "artifacts")
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(materialise(LocalHost(), resolved, root, store=counting))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(results) == {resolved.path(root)} and len(results) == 8
    assert counting.fetches == 1
    assert Path(resolved.path(root)).read_bytes() == image.read_bytes()
    assert leftovers(Path(root)) == []


CHILD = """
import json, sys
from pulumi_vigo_vm.curator.materialise import materialise
from pulumi_vigo_vm.curator.resolve import ResolvedArtifact
from pulumi_vigo_vm.hosts.local import LocalHost
resolved = ResolvedArtifact.from_dict(json.loads(sys.argv[1]))
print(materialise(LocalHost(), resolved, sys.argv[2]))
"""


def test_concurrent_processes_are_safe(
    store: ArtifactStore, curator: str, puddle: str, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image(4 << 20)
    publish(store, image, "u:1", puddle)
    resolved = resolve("u:1", curator, puddle, "linux-amd64")
    root = str(tmp_path / "artifacts")
    argv = [sys.executable, "-c", CHILD, json.dumps(resolved.to_dict()), root]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == resolved.path(root)
    assert Path(resolved.path(root)).read_bytes() == image.read_bytes()
    assert os.stat(resolved.path(root)).st_mode & 0o777 == 0o444
    assert leftovers(Path(root)) == []


def test_layouts_are_oci_image_layouts(tmp_path: Path, puddle: str, make_image: MakeImage) -> None:
    curator = str(tmp_path / "curator")
    pushed = publish(open_store(curator), make_image(), "u:1", puddle)
    repo = tmp_path / "curator" / puddle / "u"
    assert json.loads((repo / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((repo / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == "sha256:" + pushed.artifact_id
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1"
    for blob in (repo / "blobs/sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
