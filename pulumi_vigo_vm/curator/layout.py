"""An OCI image-layout directory as a curator: the embedded default, no server needed.

Each repository ``<puddle>/<name>`` is its own image layout under the curator directory
(``<dir>/<puddle>/<name>/{oci-layout,index.json,blobs/sha256/...}``), tags being the
``org.opencontainers.image.ref.name`` annotation of ``index.json`` entries. That is what
``oras`` and ``skopeo`` read as ``<dir>/<puddle>/<name>:<tag>``, so a layout can be
copied to a registry with standard tools. Writes go to temporary names and are renamed;
``index.json`` is rewritten under an ``flock`` so concurrent pushes do not lose tags.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import CuratorError
from .manifest import MANIFEST_MEDIA_TYPE, check_digest, load_json_object
from .store import MAX_METADATA_BYTES, Readable

__all__ = ["LayoutStore"]

_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


class LayoutStore:
    """A directory of OCI image layouts, one per repository."""

    def __init__(self, curator: str) -> None:
        self._location = curator
        path = curator.removeprefix("file://")
        self._root = os.path.abspath(os.path.expanduser(path))

    @property
    def location(self) -> str:
        return self._location

    # -- paths ---------------------------------------------------------------------------

    def _repo(self, repository: str) -> str:
        return os.path.join(self._root, *repository.split("/"))

    def _blob_path(self, repository: str, digest: str) -> str:
        """The file of ``digest``; the digest is checked first, as it becomes a file name."""
        check_digest(f"{self._location}: {repository}", digest)
        return os.path.join(self._repo(repository), "blobs", "sha256", digest[len("sha256:") :])

    def _read_index(self, repository: str) -> dict[str, Any] | None:
        """``index.json``, every entry a JSON object; None when the repository has none."""
        where = f"{self._location}: {repository}/index.json"
        data = _read_metadata(os.path.join(self._repo(repository), "index.json"), where)
        if data is None:
            return None
        index = load_json_object(where, data, "OCI index")
        entries = index.get("manifests")
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("annotations") or {}, dict)
            for entry in entries
        ):
            raise CuratorError(
                f'{where} is not an OCI index ("manifests" must be a list of objects with '
                f"object annotations); repair or re-create the layout"
            )
        return index

    # -- reading -------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> bytes | None:
        digest = reference if reference.startswith("sha256:") else None
        if digest is None:
            index = self._read_index(repository)
            if index is None:
                return None
            for entry in index["manifests"]:
                annotations = entry.get("annotations") or {}
                if annotations.get(_REF_NAME) == reference:
                    where = f"{self._location}: {repository}/index.json tag {reference}"
                    digest = check_digest(where, entry.get("digest"))
            if digest is None:
                return None
        where = f"{self._location}: manifest {digest} of {repository}"
        return _read_metadata(self._blob_path(repository, digest), where)

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        path = self._blob_path(repository, digest)
        try:
            src = _open_regular(path)
        except OSError as exc:
            raise CuratorError(
                f"{self._location}: blob {digest} of {repository} cannot be read: {exc}"
            ) from exc
        with src:
            yield iter(lambda: src.read(_CHUNK), b"")

    def has_blob(self, repository: str, digest: str) -> bool:
        return os.path.isfile(self._blob_path(repository, digest))

    def repositories(self) -> list[str]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self._root):
            if "oci-layout" in filenames:
                found.append(os.path.relpath(dirpath, self._root).replace(os.sep, "/"))
                dirnames[:] = []  # blobs/ holds no repositories
        return sorted(found)

    def tags(self, repository: str) -> list[str]:
        index = self._read_index(repository)
        if index is None:
            return []
        names = ((entry.get("annotations") or {}).get(_REF_NAME) for entry in index["manifests"])
        return sorted({name for name in names if isinstance(name, str)})

    # -- writing -------------------------------------------------------------------------

    def _init_repo(self, repository: str) -> str:
        repo = self._repo(repository)
        os.makedirs(os.path.join(repo, "blobs", "sha256"), exist_ok=True)
        layout = os.path.join(repo, "oci-layout")
        if not os.path.exists(layout):
            _write_atomic(layout, b'{"imageLayoutVersion":"1.0.0"}')
        return repo

    def put_blob(self, repository: str, digest: str, size: int, source: Readable) -> None:
        try:
            self._init_repo(repository)
            path = self._blob_path(repository, digest)
            hasher, written = hashlib.sha256(), 0
            with _atomic(path) as out:
                while chunk := source.read(_CHUNK):
                    hasher.update(chunk)
                    written += len(chunk)
                    out.write(chunk)
                if "sha256:" + hasher.hexdigest() != digest or written != size:
                    raise CuratorError(
                        f"the file changed while it was pushed (expected {digest}, {size} "
                        f"bytes); push again"
                    )
        except OSError as exc:
            raise CuratorError(f"{self._location}: cannot store blob {digest}: {exc}") from exc

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        try:
            repo = self._init_repo(repository)
            _write_atomic(self._blob_path(repository, digest), data)
            with open(os.path.join(repo, ".vigo-index.lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                index = self._read_index(repository) or {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [],
                }
                index["manifests"] = [
                    entry
                    for entry in index["manifests"]
                    if (entry.get("annotations") or {}).get(_REF_NAME) != tag
                ]
                index["manifests"].append(
                    {
                        "mediaType": media_type or MANIFEST_MEDIA_TYPE,
                        "digest": digest,
                        "size": len(data),
                        "annotations": {_REF_NAME: tag},
                    }
                )
                _write_atomic(os.path.join(repo, "index.json"), json.dumps(index).encode())
        except OSError as exc:
            raise CuratorError(f"{self._location}: cannot tag {repository}:{tag}: {exc}") from exc


def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file (a device, a FIFO)."""
    src = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
        src.close()
        raise OSError(f"{path} is not a regular file")
    return src


def _read_metadata(path: str, where: str) -> bytes | None:
    """The bytes of a manifest or index file, at most :data:`MAX_METADATA_BYTES`; None if
    it does not exist. Read to the limit and no further, so a huge file costs nothing."""
    try:
        with _open_regular(path) as src:
            data = src.read(MAX_METADATA_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CuratorError(f"{where} cannot be read: {exc}") from exc
    if len(data) > MAX_METADATA_BYTES:
        raise CuratorError(
            f"{where} is larger than {MAX_METADATA_BYTES} bytes (MAX_METADATA_BYTES); refusing "
            f"to read it. It is not a curator manifest: check the layout directory"
        )
    return data


@contextlib.contextmanager
def _atomic(path: str) -> Iterator[BinaryIO]:
    """Write to a temporary sibling and rename into place only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_atomic(path: str, data: bytes) -> None:
    with _atomic(path) as out:
        out.write(data)
