"""Read the few facts we need from a qcow2 header: virtual size, backing file and format,
external data file, how many internal snapshots it holds. Pure: takes the image's first bytes.

Reading a header over SFTP costs one small read; ``qemu-img info`` over SSH costs a remote
exec (~100-250 ms). Every diff of every VM inspects its overlay, so this matters on fleets.
Layout per qemu's ``docs/interop/qcow2.txt``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["HEADER_READ_SIZE", "QCOW2_MAGIC", "Qcow2Header", "parse_header"]

HEADER_READ_SIZE = 64 * 1024
"""Enough for the header, its extensions and the backing file name of images qemu makes."""

QCOW2_MAGIC = b"QFI\xfb"
_EXT_END = 0x00000000
_EXT_BACKING_FORMAT = 0xE2792ACA
_EXT_DATA_FILE = 0x44415441
_INCOMPAT_DATA_FILE = 1 << 2


@dataclass(frozen=True)
class Qcow2Header:
    """What the header says. ``backing_file`` is as recorded (may be relative)."""

    virtual_size: int
    backing_file: str | None
    backing_format: str | None
    data_file: str | None
    snapshots: int = 0
    """How many internal snapshots the image holds (``nb_snapshots``)."""


def parse_header(data: bytes) -> Qcow2Header | None:
    """Parse ``data`` (the image's first bytes). None if it is not a qcow2 image or if the
    fields we need lie beyond ``data`` (the caller then asks qemu-img)."""
    if len(data) < 72 or data[:4] != QCOW2_MAGIC:
        return None
    version, backing_offset, backing_size = struct.unpack_from(">IQI", data, 4)
    (virtual_size,) = struct.unpack_from(">Q", data, 24)
    (snapshots,) = struct.unpack_from(">I", data, 60)
    if version not in (2, 3):
        return None
    backing_file = None
    if backing_offset:
        end = backing_offset + backing_size
        if end > len(data):
            return None
        backing_file = data[backing_offset:end].decode("utf-8", "surrogateescape")
    header_length = 72
    incompatible = 0
    if version == 3:
        if len(data) < 104:
            return None
        (incompatible,) = struct.unpack_from(">Q", data, 72)
        (header_length,) = struct.unpack_from(">I", data, 100)
    extensions = _extensions(data, header_length)
    if extensions is None:
        return None
    backing_format = extensions.get(_EXT_BACKING_FORMAT)
    data_file = extensions.get(_EXT_DATA_FILE)
    if incompatible & _INCOMPAT_DATA_FILE and data_file is None:
        data_file = "(external data file)"
    return Qcow2Header(virtual_size, backing_file, backing_format, data_file, snapshots)


def _extensions(data: bytes, offset: int) -> dict[int, str] | None:
    found: dict[int, str] = {}
    while True:
        if offset + 8 > len(data):
            return None
        kind, length = struct.unpack_from(">II", data, offset)
        if kind == _EXT_END:
            return found
        body = data[offset + 8 : offset + 8 + length]
        if len(body) < length:
            return None
        if kind in (_EXT_BACKING_FORMAT, _EXT_DATA_FILE):
            found[kind] = body.decode("utf-8", "surrogateescape")
        offset += 8 + (length + 7) // 8 * 8
