"""Decompression yields bounded blocks whatever the data claims: a crafted zstd frame of RLE
blocks (2 GiB of zeros from 64 KiB), bombs of every other supported format, and a real
sparse ``.raw.zst`` made by the ``zstd`` command (whose frame declares its content size)
are streamed with a bounded peak of Python memory (tracemalloc)."""

from __future__ import annotations

import bz2
import hashlib
import lzma
import struct
import subprocess
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulumi_vigo_vm.baseimage.decompress import decompressed

PEAK_BOUND = 256 << 20
"""Generous: the code yields at most 32 MiB at once; the old code held every expansion."""
BOMB_BYTES = 320 << 20
_CHUNK = 1 << 20


def zstd_rle_frame(size: int) -> bytes:
    """A zstd frame declaring ``size`` bytes of content, made of 4-byte RLE blocks of
    128 KiB each: the ratio a compressor reaches on a sparse image, by construction."""
    block = 128 << 10
    header = struct.pack("<IBB", 0xFD2FB528, 0xC0, 0x38) + struct.pack("<Q", size)
    rle = struct.pack("<I", (1 << 1) | (block << 3))[:3] + b"\0"
    last = struct.pack("<I", 1 | (1 << 1) | (block << 3))[:3] + b"\0"
    return header + rle * (size // block - 1) + last


def _zeros_through(
    compressor: Callable[[], zlib._Compress | lzma.LZMACompressor | bz2.BZ2Compressor],
) -> bytes:
    packer = compressor()
    zero = bytes(_CHUNK)
    return b"".join([*(packer.compress(zero) for _ in range(BOMB_BYTES // _CHUNK)), packer.flush()])


BOMBS: dict[str, Callable[[], tuple[bytes, int]]] = {
    "zst": lambda: (zstd_rle_frame(2 << 30), 2 << 30),
    "gz": lambda: (_zeros_through(lambda: zlib.compressobj(9, zlib.DEFLATED, 31)), BOMB_BYTES),
    "xz": lambda: (_zeros_through(lambda: lzma.LZMACompressor(preset=0)), BOMB_BYTES),
    "bz2": lambda: (_zeros_through(lambda: bz2.BZ2Compressor(1)), BOMB_BYTES),
}


def _chunks(data: bytes) -> Iterator[bytes]:
    """As the download hands them over: 1 MiB at a time."""
    return (data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK))


def _peak_while_consuming(blocks: Iterator[bytes]) -> tuple[int, str, int]:
    """(bytes seen, their sha256, tracemalloc's peak while they streamed)."""
    digest, total = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        for block in blocks:
            digest.update(block)
            total += len(block)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return total, digest.hexdigest(), peak


@pytest.mark.parametrize("compression", sorted(BOMBS))
def test_a_bomb_of_every_format_streams_with_bounded_memory(compression: str) -> None:
    packed, size = BOMBS[compression]()
    assert len(packed) < 1 << 20  # one chunk of the download expands to all of it

    total, digest, peak = _peak_while_consuming(decompressed(_chunks(packed), compression, "s"))

    assert total == size
    assert peak < PEAK_BOUND, f"peak {peak >> 20} MiB"
    assert digest == _zeros_sha256(size)


def test_a_sparse_raw_zst_made_by_zstd_streams_whole_with_bounded_memory(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    with raw.open("wb") as handle:
        handle.truncate(1 << 30)
        handle.seek(300 << 20)
        handle.write(b"a partition table and a few files" * 100)
    subprocess.run(["zstd", "-q", "-3", str(raw)], check=True, timeout=300)
    packed = (tmp_path / "disk.raw.zst").read_bytes()
    expected = hashlib.sha256()
    with raw.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            expected.update(block)

    total, digest, peak = _peak_while_consuming(decompressed(_chunks(packed), "zst", "s"))

    assert (total, digest) == (1 << 30, expected.hexdigest())
    assert peak < PEAK_BOUND, f"peak {peak >> 20} MiB"


def _zeros_sha256(size: int) -> str:
    digest, zero = hashlib.sha256(), bytes(_CHUNK)
    for _ in range(size // _CHUNK):
        digest.update(zero)
    return digest.hexdigest()
