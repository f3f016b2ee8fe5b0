"""What an image file is, told from its first bytes, and whether it may be used as declared:
the one rule for a file a guest can write. Pure: takes the file's first bytes.

A guest writes every byte of a disk attached as raw, header included; a qcow2 header names
files the host then opens (a backing file, an external data file) whenever qemu-img or qemu
reads the image as qcow2. So a file is used only as the format it is declared, proven by its
magic (never by qemu-img's probing), and a qcow2 only when it names no file but the one
expected: :func:`refusal` says why not, for attaching a data disk (:mod:`pulumi_vigo_vm.vm.axes`)
and before every host-side operation on such a file (:mod:`pulumi_vigo_vm.hostfile.guestfile`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..common.qcow2 import QCOW2_MAGIC, parse_header

__all__ = [
    "FOREIGN_MAGIC",
    "ImageInfo",
    "header_image",
    "probe_format",
    "refusal",
]

FOREIGN_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"KDMV", "vmdk"),
    (0, b"COWD", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"conectix", "vpc"),
    (0, b"QED\x00", "qed"),
    (64, b"\x7f\x10\xda\xbe", "vdi"),
)
"""Magic numbers of image formats that are neither qcow2 nor raw. Such a file is refused,
never handed to qemu-img to probe: a VMDK descriptor, for one, makes qemu-img open any host
path it names (a FIFO there hangs it). What carries none of them (nor qcow2's) is raw."""


@dataclass(frozen=True)
class ImageInfo:
    """What ``qemu-img info`` reports about one image."""

    path: str
    format: str
    virtual_size: int
    backing_file: str | None = None
    backing_format: str | None = None
    data_file: str | None = None
    snapshots: int = 0
    """How many internal snapshots a qcow2 holds (from its header)."""
    stamp: str | None = None
    """``<file size>:<mtime>:<virtual size>``: changes when the file is replaced or written
    (see :func:`pulumi_vigo_vm.hostfile.images.header_info`)."""


def probe_format(head: bytes) -> str:
    """The format ``head`` (a file's first bytes) shows: ``qcow2``, a foreign format's name,
    else ``raw``."""
    if head.startswith(QCOW2_MAGIC):
        return "qcow2"
    for offset, magic, fmt in FOREIGN_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    return "raw"


def header_image(path: str, head: bytes) -> ImageInfo | None:
    """ImageInfo from the qcow2 header in ``head`` (a relative backing file resolved against
    ``path``'s folder), or None if ``head`` holds no qcow2 header this package can read."""
    header = parse_header(head)
    if header is None:
        return None
    backing = header.backing_file
    if backing is not None and not backing.startswith("/"):
        backing = posixpath.join(posixpath.dirname(path), backing)
    return ImageInfo(
        path,
        "qcow2",
        header.virtual_size,
        backing,
        header.backing_format,
        header.data_file,
        snapshots=header.snapshots,
    )


def refusal(
    declared: str, probed: str, image: ImageInfo | None, *, backing: str | None = None
) -> str | None:
    """Why a file declared ``declared`` must not be used (attached, resized, inspected), or
    None when it may: its magic shows ``probed`` and, for a qcow2, its header says ``image``
    (None: unreadable). ``backing``: the one backing file it may name (an overlay's base);
    a data disk names none. The reason continues a sentence that starts with the file."""
    if probed != declared:
        if probed == "qcow2":
            return (
                f"holds a qcow2 header but is declared {declared}: attached as {declared}, a "
                "guest could rewrite that header to name any host file for qemu-img and qemu "
                "to open and extend. Declare format 'qcow2' if it is a qcow2 image; a "
                f"{declared} disk never starts with one"
            )
        if declared == "qcow2" and probed == "raw":
            return "is not a qcow2 image: set its format to 'raw' if it is raw"
        return (
            f"is a {probed} image, neither qcow2 nor raw: convert it first "
            "(qemu-img convert -O qcow2 <file> <new file>)"
        )
    if declared != "qcow2":
        return None
    if image is None:
        return (
            "has a qcow2 header this package cannot read in full (too large, or not a "
            "version it knows), so the files it names cannot be checked; convert it "
            "(qemu-img convert -O qcow2 <file> <new file>)"
        )
    if image.data_file:
        return (
            f"keeps its data in an external file ({image.data_file}): its header names a "
            "host file that qemu-img would open and write; attach self-contained images only"
        )
    if image.backing_file is not None and (
        backing is None or posixpath.normpath(image.backing_file) != posixpath.normpath(backing)
    ):
        expected = f"on {backing}" if backing is not None else "standalone"
        return (
            f"has a backing file ({image.backing_file}) where it must be {expected}; attach "
            "standalone images only (flatten it: qemu-img convert -O qcow2 <file> <new file>)"
        )
    if backing is not None and image.backing_file is None:
        return f"has no backing file where it must be on {backing}"
    return None
