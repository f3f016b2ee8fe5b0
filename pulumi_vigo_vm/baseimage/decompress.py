"""Streaming decompression of a published image: ``.xz``, ``.gz``, ``.bz2``, ``.zst``.

Why a module of its own: every format needs the same three things the standard
decompressors leave to the caller. Concatenated streams (``pixz``, ``pigz``, ``pbzip2``,
``zstd -T`` write several) must all be read; a body that ends inside a stream is a
truncated download, never a shorter image; and no single step may produce unbounded
output. A compressor's ratio has no useful ceiling (a 256 KiB zstd frame of RLE blocks is
8 GiB of zeros, and a sparse ``.raw.zst`` is mostly such blocks), so a decompressor asked
for "everything this chunk holds" allocates the whole expansion at once. Each codec here
yields blocks of at most :data:`OUTPUT_BLOCK` bytes (``max_length`` for lzma, bz2 and zlib;
for zstd, whose decompressobj has no ``max_length``, input fed in :data:`ZSTD_SLICE`-byte
slices, each expanding to at most ``ZSTD_SLICE / 4`` maximal blocks of 128 KiB). Pure:
bytes in, bytes out, no I/O.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import zstandard

from ..errors import ImageError

__all__ = ["HOST_COMMANDS", "OUTPUT_BLOCK", "ZSTD_SLICE", "decompressed"]

HOST_COMMANDS = {"xz": "xz -dc", "gz": "gzip -dc", "bz2": "bzip2 -dc", "zst": "zstd -dc"}
"""The same decompressions as commands, for a hypervisor that downloads by itself (they
stream with fixed buffers: their output goes to a pipe, never to memory)."""

OUTPUT_BLOCK = 1 << 20
"""The most one lzma, bz2 or zlib step yields."""
ZSTD_SLICE = 1024
"""Input bytes per zstd step: a zstd block is at least 4 bytes and at most 128 KiB of
output, so one step yields at most 32 MiB, whatever the frame declares."""


class _Unpacker(Protocol):
    """One stream of one format, fed chunk by chunk, yielding bounded blocks."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Bounded:
    """A standard decompressor taking ``max_length``, which keeps its own end and leftovers."""

    _stream: lzma.LZMADecompressor | bz2.BZ2Decompressor | zlib._Decompress

    @property
    def eof(self) -> bool:
        return self._stream.eof

    @property
    def unused_data(self) -> bytes:
        return self._stream.unused_data


class _Native(_Bounded):
    """lzma and bz2: ``decompress(data, max_length)``, with ``needs_input`` saying whether
    output is still held back."""

    _stream: lzma.LZMADecompressor | bz2.BZ2Decompressor

    def __init__(self, stream: lzma.LZMADecompressor | bz2.BZ2Decompressor) -> None:
        self._stream = stream

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._stream.decompress(data, OUTPUT_BLOCK)
        while True:
            if out:
                yield out
            if self._stream.eof or self._stream.needs_input:
                return
            out = self._stream.decompress(b"", OUTPUT_BLOCK)


class _Zlib(_Bounded):
    """gzip: ``decompress(data, max_length)`` keeps what it did not reach in
    ``unconsumed_tail``."""

    _stream: zlib._Decompress

    def __init__(self) -> None:
        self._stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self._stream.eof:
            out = self._stream.decompress(data, OUTPUT_BLOCK)
            data = self._stream.unconsumed_tail
            if out:
                yield out
            elif not data:
                return


class _Zstd:
    """zstd: fed in slices, since one decompress call yields all the slice holds."""

    def __init__(self) -> None:
        self._stream = zstandard.ZstdDecompressor().decompressobj()
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return bool(self._stream.eof)

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(data), ZSTD_SLICE):
            end = start + ZSTD_SLICE
            out = self._stream.decompress(view[start:end])
            if out:
                yield out
            if self._stream.eof:
                self.unused_data = self._stream.unused_data + bytes(view[end:])
                return


_FACTORIES: dict[str, Callable[[], _Unpacker]] = {
    "xz": lambda: _Native(lzma.LZMADecompressor()),
    "gz": _Zlib,
    "bz2": lambda: _Native(bz2.BZ2Decompressor()),
    "zst": _Zstd,
}


def decompressed(chunks: Iterable[bytes], compression: str | None, source: str) -> Iterator[bytes]:
    """The bytes of ``chunks`` decompressed from ``compression`` (None: as they are), in
    blocks of bounded size (see the module docstring).

    Raises ImageError naming ``source`` (as it may be shown) when the data is not in that
    format or ends before its last stream does.
    """
    if compression is None:
        yield from chunks
        return
    factory = _FACTORIES[compression]
    stream: _Unpacker | None = None
    try:
        for chunk in chunks:
            while chunk:
                stream = stream or factory()
                yield from stream.feed(chunk)
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
