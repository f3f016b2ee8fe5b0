"""A file a guest can write, re-verified on the host before the host acts on it.

Every host-side operation on a disk a guest writes (a VigoDisk, a data disk, a VM's overlay)
goes through here: :func:`inspect` reads the file's first bytes (bounded, regular file or
block device only) and refuses it unless :func:`pulumi_vigo_vm.hostfile.imageformat.refusal` lets it
be used as declared; :func:`resize` inspects, then runs ``qemu-img resize`` with the format
always given (``-f``: qemu-img never probes). qemu-img 7.2 has no option that refuses a
qcow2's external data file or backing file, so the header check is what does; the window
between it and qemu-img's open is closed by qemu's image locking: a guest can write the
header only while a qemu holds the file, and ``resize`` (no ``-U``) takes the write lock,
which any running qemu holding it refuses.
"""

from __future__ import annotations

from ..common.qcow2 import HEADER_READ_SIZE
from ..errors import ImageError, NotRegularFileError
from ..hosts.base import CommandResult, Host, read_bounded
from .imageformat import ImageInfo, header_image, probe_format, refusal

__all__ = ["QEMU_IMG_TIMEOUT", "delete_internal_snapshot", "inspect", "probe", "resize"]

QEMU_IMG_TIMEOUT = 120.0
"""qemu-img resize touches metadata only (no preallocation): seconds at most."""


def probe(host: Host, path: str, *, block_device: bool = False) -> tuple[str, ImageInfo | None]:
    """The format ``path``'s magic shows and, for a qcow2, its header's facts (None when
    unreadable). Raises NotRegularFileError for anything but a regular file (or a block
    device, with ``block_device``), before a byte is read."""
    head = read_bounded(host, path, HEADER_READ_SIZE, block_device=block_device)
    return probe_format(head), header_image(path, head)


def inspect(
    host: Host,
    path: str,
    declared: str,
    what: str,
    *,
    backing: str | None = None,
    block_device: bool = False,
) -> ImageInfo:
    """The facts of the file at ``path``, proven usable as ``declared`` (see
    :func:`~pulumi_vigo_vm.hostfile.imageformat.refusal`; ``backing``: the one backing file it may
    name). Raises ImageError starting with ``what`` (the input or object it is) otherwise,
    or when it is missing or not a regular file; nothing is run on it."""
    stat = host.stat(path)
    if stat is None:
        raise ImageError(f"{what}: {path} does not exist on {host.name}")
    try:
        probed, image = probe(host, path, block_device=block_device)
    except NotRegularFileError as exc:
        raise ImageError(f"{what}: {exc}") from None
    problem = refusal(declared, probed, image, backing=backing)
    if problem is not None:
        raise ImageError(f"{what}: {path} on {host.name} {problem}; it is left as it is")
    if image is not None and declared == "qcow2":
        return image
    return ImageInfo(path, declared, stat.size)


def resize(
    host: Host,
    path: str,
    declared: str,
    size_bytes: int,
    what: str,
    *,
    backing: str | None = None,
) -> CommandResult:
    """Grow the image at ``path`` (no running guest holds it) to ``size_bytes``, once
    :func:`inspect` has proven it is what it is declared."""
    inspect(host, path, declared, what, backing=backing)
    argv = ["qemu-img", "resize", "-q", "-f", declared, path, str(size_bytes)]
    return host.run(argv, timeout=QEMU_IMG_TIMEOUT)


def delete_internal_snapshot(host: Host, path: str, name: str, what: str) -> CommandResult:
    """Delete the internal snapshot ``name`` from the standalone qcow2 at ``path`` (a data
    disk no running guest holds: ``qemu-img snapshot`` takes the write lock), once
    :func:`inspect` has proven it a qcow2 naming no other file."""
    inspect(host, path, "qcow2", what)
    # qemu-img snapshot has no -f: the format is stated in --image-opts (never probed)
    image = "driver=qcow2,file.driver=file,file.filename=" + path.replace(",", ",,")
    argv = ["qemu-img", "snapshot", "-q", "--image-opts", "-d", name, image]
    return host.run(argv, timeout=QEMU_IMG_TIMEOUT)
