"""Disk images on a host through ``qemu-img``: inspect a base, create and grow an overlay.

Every command runs through a :class:`~pulumi_vigo_vm.hosts.base.Host`, so the same code
serves local and SSH hypervisors. ``-U`` (force-share) lets us inspect images that a
running guest holds; the overlay's backing format is always explicit (``-F``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..common.once import OncePerKey
from ..common.qcow2 import HEADER_READ_SIZE
from ..errors import CommandError, ImageError
from ..hosts.base import FileStat, Host, read_bounded
from . import guestfile
from .imageformat import ImageInfo, header_image, probe_format
from .ops import install

__all__ = [
    "ImageInfo",
    "create_blank",
    "create_overlay",
    "grow_overlay",
    "header_info",
    "image_info",
    "overlay_info",
    "usable_base",
]

_BASE_FORMATS = ("qcow2", "raw")

# `qemu-img info` parses images we did not make: cap its memory and CPU time as Nova does
# (nova/virt/images.py QEMU_IMG_LIMITS: 1 GiB address space, 30 s of CPU). Only there: a
# `create` under that cap fails to start its threads on a busy host ("qemu_thread_create:
# Resource temporarily unavailable"), and it only writes our own overlay.
_QEMU_IMG_INFO = ("prlimit", f"--as={1 << 30}", "--cpu=30", "qemu-img", "info")


def _parse_info(path: str, report: dict[str, Any]) -> ImageInfo:
    specific = report.get("format-specific", {}).get("data", {})
    return ImageInfo(
        path=path,
        format=str(report["format"]),
        virtual_size=int(report["virtual-size"]),
        backing_file=report.get("full-backing-filename") or report.get("backing-filename"),
        backing_format=report.get("backing-filename-format"),
        data_file=specific.get("data-file"),
        snapshots=len(report.get("snapshots") or ()),
    )


def image_info(host: Host, path: str, fmt: str) -> ImageInfo | None:
    """``qemu-img info`` of ``path`` read as ``fmt`` (never probed), or None when the file
    does not exist."""
    st = host.stat(path)
    if st is None:
        return None
    argv = [*_QEMU_IMG_INFO, "-U", "--output=json", "-f", fmt]
    try:
        result = host.run([*argv, path])
    except CommandError as exc:
        if host.stat(path) is None:  # removed between the two calls
            return None
        raise ImageError(f"cannot read image {path} on {host.name}: {exc.stderr.strip()}") from exc
    info = _parse_info(path, json.loads(result.stdout))
    return replace(info, stamp=_stamp(st, info.virtual_size))


def _stamp(stat: FileStat, virtual_size: int) -> str:
    """What tells a base replaced in place: file size, mtime (as precise as the host's
    stat gives it) and virtual size. Two qcow2 files of different virtual sizes can have the
    same file size and be written within one second; the virtual size tells them apart."""
    return f"{stat.size}:{stat.mtime:.6f}:{virtual_size}"


def header_info(host: Host, path: str) -> ImageInfo | None:
    """Facts read from the qcow2 header at ``path`` (one small read, no exec), or None when
    the file is not a qcow2 image this package can read."""
    return header_image(path, read_bounded(host, path, HEADER_READ_SIZE))


def overlay_info(host: Host, path: str) -> ImageInfo | None:
    """Facts about one of our qcow2 overlays, read from its header (never by qemu-img: a
    guest writes the overlay, see :mod:`pulumi_vigo_vm.hostfile.guestfile`). None when missing;
    ImageError when the file holds no qcow2 header this package can read. The read itself
    tells a missing file (no stat first: over SSH each is a round trip, see issue 24)."""
    try:
        info = header_info(host, path)
    except FileNotFoundError:
        return None
    if info is None:
        raise ImageError(
            f"overlay {path} on {host.name} holds no qcow2 header this package can read; it "
            "may hold a VM's data, so it is left alone: move it away and run again"
        )
    return info


_bases: OncePerKey[tuple[str, str, int, float], ImageInfo] = OncePerKey()
"""Probed bases by (host, path, size, mtime)."""


def usable_base(host: Host, path: str, input_name: str) -> ImageInfo:
    """The base image at ``path``, refused unless it is a standalone qcow2 or raw file.

    A base with its own backing file or an external data file would make every overlay
    depend on files we neither track nor protect. The answer is kept per process for as
    long as the file's size and mtime stay the same: fleets share one base, and the VMs
    that ask at once wait for one probe of it rather than each making its own.
    """
    stat = host.stat(path)
    if stat is None:
        raise ImageError(f"{input_name}: base image {path} does not exist on {host.name}")
    return _bases.get(
        (host.name, path, stat.size, stat.mtime),
        lambda: _checked_base(host, path, stat, input_name),
    )


def _checked_base(host: Host, path: str, stat: FileStat, input_name: str) -> ImageInfo:
    """The base at ``path`` (``stat`` its stat) probed, or ImageError saying why it is
    refused."""
    if not stat.is_file:
        raise ImageError(f"{input_name}: base image {path} on {host.name} is not a regular file")
    info = _probe_base(host, path, stat)
    if info is None:
        raise ImageError(f"{input_name}: base image {path} does not exist on {host.name}")
    if info.virtual_size == 0 and info.format == "raw":
        raise ImageError(f"{input_name}: base image {path} on {host.name} is empty")
    if info.format not in _BASE_FORMATS:
        raise ImageError(
            f"{input_name}: base image {path} is {info.format}; use a qcow2 or raw image "
            f"(qemu-img convert -O qcow2 {path} <new file>)"
        )
    if info.backing_file:
        raise ImageError(
            f"{input_name}: base image {path} is itself an overlay of {info.backing_file}; "
            "flatten it first (qemu-img convert -O qcow2 ...)"
        )
    if info.data_file:
        raise ImageError(
            f"{input_name}: base image {path} keeps its data in an external file "
            f"({info.data_file}); convert it to a self-contained image first"
        )
    return info


def _probe_base(host: Host, path: str, stat: FileStat) -> ImageInfo | None:
    """Tell a base's format from its magic alone, safely: a qcow2 is read from its header
    (``qemu-img info -f qcow2`` only when the header is unusual), a known foreign format is
    named (and refused by the caller), anything else is raw: its size is the file's. The
    image is never handed to qemu-img's format probing."""
    head = read_bounded(host, path, HEADER_READ_SIZE)
    fmt = probe_format(head)
    if fmt == "qcow2":
        header = header_image(path, head)
        if header is None:
            return image_info(host, path, fmt="qcow2")
        return replace(header, stamp=_stamp(stat, header.virtual_size))
    if fmt != "raw":
        return ImageInfo(path, fmt, 0)
    return ImageInfo(path, "raw", stat.size, stamp=_stamp(stat, stat.size))


def _refuse_smaller_than_base(base: ImageInfo, size_bytes: int | None) -> None:
    """A VM's own root is never smaller than the base it starts from (qemu would cut it)."""
    if size_bytes is not None and size_bytes < base.virtual_size:
        raise ImageError(
            f"disk_size_gib: {size_bytes // 1024**3} GiB is smaller than the base image "
            f"{base.path} ({base.virtual_size / 1024**3:.1f} GiB); omit it or make it larger"
        )


def create_overlay(host: Host, overlay_path: str, base: ImageInfo, size_bytes: int | None) -> None:
    """Create ``overlay_path`` as a qcow2 overlay of ``base``, mode 0600, through
    :func:`~pulumi_vigo_vm.hostfile.ops.install`: built under a temporary name and moved into
    place, never over a file that appeared meanwhile, so a crash never leaves a half-made
    overlay under the real name. Refuses a size smaller than the base's.
    """
    _refuse_smaller_than_base(base, size_bytes)

    def build(temporary: str) -> None:
        argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", base.format, "-b", base.path]
        host.run(argv + [temporary] + ([str(size_bytes)] if size_bytes is not None else []))

    install(host, overlay_path, build, 0o600)


def create_blank(host: Host, path: str, size_bytes: int) -> None:
    """Create ``path`` as an empty qcow2 of ``size_bytes`` with no backing file, mode 0600,
    atomically: what a root copy's blocks are written into when qemu carries them (a VM's
    live move)."""

    def build(temporary: str) -> None:
        host.run(["qemu-img", "create", "-q", "-f", "qcow2", temporary, str(size_bytes)])

    install(host, path, build, 0o600)


QEMU_IMG_COPY_TIMEOUT = 3600.0
"""Seconds a root copy may take: it reads the whole base (tens of GiB at disk speed)."""


def create_copy(host: Host, copy_path: str, base: ImageInfo, size_bytes: int | None) -> None:
    """Create ``copy_path`` as a sparse, standalone qcow2 copy of ``base`` (no backing
    file: the base may change or go afterwards), mode 0600, atomically, grown to
    ``size_bytes`` when given. Refuses a size smaller than the base's."""
    _refuse_smaller_than_base(base, size_bytes)
    size = str(size_bytes if size_bytes is not None else base.virtual_size)

    def build(temporary: str) -> None:
        # Into a new, empty image of the wanted size (zeros are skipped: sparse); only the
        # base is read, and usable_base has proven it a standalone qcow2 or raw file.
        host.run(["qemu-img", "create", "-q", "-f", "qcow2", temporary, size])
        copy = ["qemu-img", "convert", "-q", "-n", "--target-is-zero", "-f", base.format]
        host.run([*copy, "-O", "qcow2", base.path, temporary], timeout=QEMU_IMG_COPY_TIMEOUT)

    install(host, copy_path, build, 0o600)


def grow_overlay(host: Host, overlay_path: str, base_path: str | None, size_bytes: int) -> None:
    """Grow a qcow2 overlay (or copy: ``base_path`` None) that no running guest holds to
    ``size_bytes``, once its header is proven to name ``base_path`` and nothing else
    (:func:`guestfile.resize`)."""
    guestfile.resize(host, overlay_path, "qcow2", size_bytes, "disk_size_gib", backing=base_path)
