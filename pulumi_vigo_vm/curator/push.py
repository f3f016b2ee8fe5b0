"""Publish a disk image as a curator artifact (``vigo-curator push --kind generic``).

The file is read twice, never held: once to hash it (the digest must be known before an
OCI upload starts), once to stream it to the store. Pushing another platform to an
existing tag adds a layer to that tag's manifest, so one artifact carries every
``<os>-<arch>`` of a version; pushing a platform again replaces its layer (and so the
artifact id changes, which is what pinned references are there to notice).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import CuratorError
from .manifest import (
    ARTIFACT_TYPE_GENERIC,
    EMPTY_CONFIG,
    EMPTY_CONFIG_DIGEST,
    MANIFEST_MEDIA_TYPE,
    MEDIA_TYPE_QCOW2,
    MEDIA_TYPE_RAW,
    Layer,
    build_manifest,
    parse_manifest,
)
from .platform import normalise_platform
from .reference import ArtifactRef
from .store import ArtifactStore

__all__ = ["KINDS", "PushResult", "push_generic"]

#: Artifact kinds ``push`` knows; only disk images so far.
KINDS = {"generic": ARTIFACT_TYPE_GENERIC}

_QCOW2_MAGIC = b"QFI\xfb"
_CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]
"""progress(phase, done_bytes, total_bytes); phase is "hash" or "upload"."""


@dataclass(frozen=True)
class PushResult:
    """What was published."""

    repository: str
    tag: str
    artifact_id: str
    platform: str
    digest: str
    size: int
    media_type: str
    uploaded: bool  # False when the store already had the blob


class _Reader:
    """Reports progress as the store reads the file."""

    def __init__(self, source: BinaryIO, total: int, progress: Progress | None) -> None:
        self._source, self._total, self._done, self._progress = source, total, 0, progress

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(n)
        self._done += len(chunk)
        if self._progress is not None:
            self._progress("upload", self._done, self._total)
        return chunk


def _hash_file(path: str, progress: Progress | None) -> tuple[str, int, str]:
    hasher, size = hashlib.sha256(), os.path.getsize(path)
    done = 0
    with open(path, "rb") as src:
        head = src.read(4)
        src.seek(0)
        while chunk := src.read(_CHUNK):
            hasher.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress("hash", done, size)
    media_type = MEDIA_TYPE_QCOW2 if head == _QCOW2_MAGIC else MEDIA_TYPE_RAW
    return "sha256:" + hasher.hexdigest(), done, media_type


def push_generic(
    store: ArtifactStore,
    ref: ArtifactRef,
    path: str,
    puddle: str,
    platform: str = "linux/amd64",
    *,
    progress: Progress | None = None,
) -> PushResult:
    """Upload the disk image at ``path`` as ``platform``'s blob of ``ref`` and tag it."""
    if ref.artifact_id is not None:
        raise CuratorError(
            f"cannot push to pinned reference {ref}: the artifact id is what a push creates; "
            f"push to {ref.name}:{ref.version} or <puddle>/{ref.name}:{ref.version}"
        )
    platform = normalise_platform(platform)
    repository = ref.repository(puddle)
    try:
        digest, size, media_type = _hash_file(path, progress)
    except OSError as exc:
        raise CuratorError(f"cannot read {path}: {exc}") from exc

    layers = _existing_layers(store, repository, ref.version)
    uploaded = not store.has_blob(repository, digest)
    if uploaded:
        try:
            with open(path, "rb") as src:
                store.put_blob(repository, digest, size, _Reader(src, size, progress))
        except OSError as exc:
            raise CuratorError(f"cannot read {path}: {exc}") from exc
    if not store.has_blob(repository, EMPTY_CONFIG_DIGEST):
        store.put_blob(repository, EMPTY_CONFIG_DIGEST, len(EMPTY_CONFIG), io.BytesIO(EMPTY_CONFIG))

    layers = [layer for layer in layers if layer.platform != platform]
    layers.append(Layer(platform, digest, size, media_type))
    data = build_manifest(ARTIFACT_TYPE_GENERIC, layers)
    store.put_manifest(repository, ref.version, data, MANIFEST_MEDIA_TYPE)
    return PushResult(
        repository=repository,
        tag=ref.version,
        artifact_id=hashlib.sha256(data).hexdigest(),
        platform=platform,
        digest=digest,
        size=size,
        media_type=media_type,
        uploaded=uploaded,
    )


def _existing_layers(store: ArtifactStore, repository: str, tag: str) -> list[Layer]:
    """The platforms already published under ``tag``; refuse to clobber a foreign artifact."""
    data = store.get_manifest(repository, tag)
    if data is None:
        return []
    where = f"{repository}:{tag} in {store.location}"
    try:
        manifest = parse_manifest(where, data)
    except CuratorError as exc:
        raise CuratorError(
            f"{exc}; refusing to overwrite a tag that is not a vigo artifact"
        ) from exc
    if manifest.artifact_type != ARTIFACT_TYPE_GENERIC:
        raise CuratorError(
            f"{where} is a {manifest.artifact_type or 'non-artifact'} manifest, not a vigo "
            f"generic artifact; refusing to overwrite it"
        )
    return list(manifest.layers)
