"""Streaming decompression of a published image: ``.xz``, ``.gz``, ``.bz2``, ``.zst``.

Why a module of its own: every format needs the same two things the standard decompressors
leave to the caller. Concatenated streams (``pixz``, ``pigz``, ``pbzip2``, ``zstd -T``
write several) must all be read, and a body that ends inside a stream is a truncated
download, never a shorter image. Pure: bytes in, bytes out, no I/O.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import zstandard

from ..errors import ImageError

__all__ = ["HOST_COMMANDS", "decompressed"]

HOST_COMMANDS = {"xz": "xz -dc", "gz": "gzip -dc", "bz2": "bzip2 -dc", "zst": "zstd -dc"}
"""The same decompressions as commands, for a hypervisor that downloads by itself."""


class _Stream(Protocol):
    """What lzma, bz2, zlib and zstandard decompressor objects have in common."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, /) -> bytes: ...


_FACTORIES: dict[str, Callable[[], _Stream]] = {
    "xz": lambda: lzma.LZMADecompressor(),
    "gz": lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS),
    "bz2": lambda: bz2.BZ2Decompressor(),
    "zst": lambda: zstandard.ZstdDecompressor().decompressobj(),
}


def decompressed(chunks: Iterable[bytes], compression: str | None, source: str) -> Iterator[bytes]:
    """The bytes of ``chunks`` decompressed from ``compression`` (None: as they are).

    Raises ImageError naming ``source`` when the data is not in that format or ends before
    its last stream does.
    """
    if compression is None:
        yield from chunks
        return
    factory = _FACTORIES[compression]
    stream: _Stream | None = None
    try:
        for chunk in chunks:
            while chunk:
                stream = stream or factory()
                out = stream.decompress(chunk)
                if out:
                    yield out
                chunk = stream.unused_data if stream.eof else b""
                if stream.eof:
                    stream = None
    except (lzma.LZMAError, OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
        raise ImageError(
            f"source {source}: not valid {compression} data ({exc}); check that the URL "
            "names the compressed image the digest is for"
        ) from exc
    if stream is not None:
        raise ImageError(
            f"source {source}: the {compression} data ends early (a truncated download); "
            "nothing was kept. Try again"
        )
