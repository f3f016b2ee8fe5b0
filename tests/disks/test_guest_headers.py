"""A VigoDisk's file is written by guests: before the provider grows it (qemu-img resize) it
proves the file is still what the disk declares, so a header a guest wrote (an external data
file, a backing file naming any host file) never makes the host open or extend another file.
Real qemu-img makes the hostile headers; a real libvirtd and the engine harness do the rest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pulumi_vigo_vm.testing.errors import ProviderError

from .disklab import GIB, DiskLab

pytestmark = pytest.mark.libvirt


def victim_file(disks: DiskLab) -> tuple[Path, tuple[int, int, bytes]]:
    """A host file no disk should ever touch, and its (size, mtime, bytes)."""
    victim = disks.lab.root / "victim.bin"
    victim.write_bytes(b"precious" * 512)
    stat = victim.stat()
    return victim, (stat.st_size, stat.st_mtime_ns, victim.read_bytes())


def as_a_guest_writes(disk: Path, header: bytes) -> None:
    """Write ``header`` over the start of ``disk``, in place, as a guest holding it as raw
    would (the claim sidecar and the file's inode stay)."""
    with disk.open("r+b") as out:
        out.write(header)


def hostile_qcow2(directory: Path, **options: str) -> bytes:
    """The bytes of a qcow2 image made by qemu-img with ``options`` (``-o``)."""
    path = directory / "hostile.qcow2"
    joined = ",".join(f"{k}={v}" for k, v in options.items())
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", joined, str(path), "1G"],
        check=True,
        timeout=60,
    )
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.transport
def test_a_disk_whose_header_a_guest_rewrote_to_name_a_data_file_is_never_grown(
    disks: DiskLab, fmt: str
) -> None:
    disks.disk("d", size_gib=1, format=fmt)
    disks.up()
    path = disks.path("d", fmt)
    scratch = disks.lab.root / "scratch.raw"
    header = hostile_qcow2(disks.lab.root, data_file=str(scratch))
    scratch.unlink()  # qemu-img made it; the header names it
    victim, before = victim_file(disks)
    # The header is re-pointed at the victim (same length: the name is padded in place).
    name = str(scratch).encode()
    assert len(str(victim)) <= len(name)
    header = header.replace(name, str(victim).encode().ljust(len(name), b"\0"))
    as_a_guest_writes(path, header)
    disk_before = path.read_bytes()

    disks.disk("d", size_gib=2, format=fmt)
    with pytest.raises(ProviderError) as caught:
        disks.up()

    message = str(caught.value)
    assert str(path) in message
    expected = "external file" if fmt == "qcow2" else "holds a qcow2 header but is declared raw"
    assert expected in message
    stat = victim.stat()
    assert (stat.st_size, stat.st_mtime_ns, victim.read_bytes()) == before, "victim touched"
    assert path.read_bytes() == disk_before, "the disk is left as it is"


@pytest.mark.transport
def test_a_qcow2_disk_whose_guest_wrote_a_backing_file_is_never_grown(disks: DiskLab) -> None:
    disks.disk("d", size_gib=1)
    disks.up()
    path = disks.path("d")
    victim, before = victim_file(disks)
    as_a_guest_writes(path, hostile_qcow2(disks.lab.root, backing_file=str(victim),
                                          backing_fmt="raw"))  # fmt: skip

    disks.disk("d", size_gib=2)
    with pytest.raises(ProviderError, match=f"has a backing file \\({victim}\\)"):
        disks.up()

    stat = victim.stat()
    assert (stat.st_size, stat.st_mtime_ns, victim.read_bytes()) == before


def test_an_unchanged_disk_still_grows(disks: DiskLab) -> None:
    """The re-verification passes what the provider made: growth works as before."""
    for fmt in ("qcow2", "raw"):
        disks.disk(fmt, size_gib=1, format=fmt)
    disks.up()
    for fmt in ("qcow2", "raw"):
        disks.disk(fmt, size_gib=2, format=fmt)
    assert disks.up().ops() == {"qcow2": "update", "raw": "update"}
    assert disks.outputs("qcow2")["virtual_size_bytes"] == 2 * GIB
    assert os.path.getsize(disks.path("raw", "raw")) == 2 * GIB
