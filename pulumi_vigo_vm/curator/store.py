"""The storage interface a curator backend offers, and the choice between backends.

A store moves bytes: manifests by tag or digest, blobs by digest, tag listings. It knows
nothing about platforms or pinning, which live once in :mod:`.resolve` and :mod:`.push`,
so both backends behave the same by construction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

__all__ = [
    "MAX_METADATA_BYTES",
    "ArtifactStore",
    "Readable",
    "default_curator",
    "is_layout_location",
    "open_store",
]

#: The most bytes a store reads for one manifest, ``index.json``, catalog or tag-list page
#: (4 MiB, the manifest size the OCI distribution spec tells registries to accept). These
#: are read whole and parsed, also by ``pulumi preview``, so anything larger is refused.
MAX_METADATA_BYTES = 4 << 20


class Readable(Protocol):
    """A byte source read in blocks (a file, or a wrapper that reports progress)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


class ArtifactStore(Protocol):
    """An OCI content store: an image-layout directory or a distribution registry."""

    @property
    def location(self) -> str:
        """The curator as configured, for messages and to reopen the store later."""
        ...

    def get_manifest(self, repository: str, reference: str) -> bytes | None:
        """The raw manifest bytes for a tag or ``sha256:`` digest, or None if absent.

        Raises CuratorError when it is larger than :data:`MAX_METADATA_BYTES`.
        """
        ...

    def open_blob(self, repository: str, digest: str) -> AbstractContextManager[Iterator[bytes]]:
        """Stream a blob's bytes. Raises CuratorError before yielding if it cannot be read.

        The caller verifies the digest: a store does not promise the bytes are right.
        """
        ...

    def has_blob(self, repository: str, digest: str) -> bool:
        """Whether the blob is already stored (so a push can skip it)."""
        ...

    def put_blob(self, repository: str, digest: str, size: int, source: Readable) -> None:
        """Store ``size`` bytes read from ``source`` under ``digest`` (streamed)."""
        ...

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        """Store manifest ``data`` and point ``tag`` at it."""
        ...

    def repositories(self) -> list[str]:
        """Every repository path in the store, sorted."""
        ...

    def tags(self, repository: str) -> list[str]:
        """The tags of ``repository``, sorted (empty if it does not exist)."""
        ...


def default_curator() -> str:
    """The embedded default: a layout directory under the user's data directory."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(data, "vigo", "curator")


def is_layout_location(curator: str) -> bool:
    """A path (absolute, ``./``, ``../``, ``~`` or ``file://``) is a layout; else a registry."""
    return curator.startswith(("/", "./", "../", "~", "file://")) or curator in (".", "..")


def open_store(curator: str) -> ArtifactStore:
    """The store ``curator`` names: see :func:`is_layout_location`."""
    # Imported here so a layout-only user never imports requests/oras.
    if is_layout_location(curator):
        from .layout import LayoutStore

        return LayoutStore(curator)
    from .registry import RegistryStore

    return RegistryStore(curator)
