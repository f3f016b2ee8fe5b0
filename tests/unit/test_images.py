"""images.usable_base: a base's format is told by its magic, never by qemu-img's probing."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.errors import ImageError
from pulumi_vigo_vm.hostfile.images import image_info, usable_base
from pulumi_vigo_vm.hosts.base import CommandResult, FileStat
from pulumi_vigo_vm.hosts.local import LocalHost

MIB = 1024**2


class RecordingHost(LocalHost):
    """The local host, noting every command it runs."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        self.commands.append(list(argv))
        return super().run(argv, check=check, timeout=timeout)


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost()


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def never_probed(host: RecordingHost) -> None:
    """No qemu-img call ran without pinning the format."""
    for argv in host.commands:
        if "qemu-img" in argv:
            assert "-f" in argv, argv


def test_qcow2_base_is_read_from_its_header(host: RecordingHost, tmp_path: Path) -> None:
    path = tmp_path / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(path), "64M")
    info = usable_base(host, str(path), "disk_path")
    assert (info.format, info.virtual_size, info.backing_file) == ("qcow2", 64 * MIB, None)
    assert info.stamp is not None
    never_probed(host)


@pytest.mark.parametrize(
    "content",
    [b"\x00" * MIB, b"hello, I am a disk\n" * 1000],
    ids=["zeros", "text"],
)
def test_anything_without_a_known_magic_is_raw_of_the_files_size(
    host: RecordingHost, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / f"base-{len(content)}.img"
    path.write_bytes(content)
    info = usable_base(host, str(path), "disk_path")
    assert (info.format, info.virtual_size) == ("raw", len(content))
    assert host.commands == []


def test_an_empty_file_is_refused_as_a_base(host: RecordingHost, tmp_path: Path) -> None:
    path = tmp_path / "empty.img"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="is empty"):
        usable_base(host, str(path), "disk_path")


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"KDMV" + b"\x00" * 508, "vmdk"),
        (b"COWD" + b"\x00" * 508, "vmdk"),
        (b'# Disk DescriptorFile\nRW 1 FLAT "/dev/zero" 0\n', "vmdk"),
        (b"vhdxfile" + b"\x00" * 504, "vhdx"),
        (b"conectix" + b"\x00" * 504, "vpc"),
        (b"QED\x00" + b"\x00" * 508, "qed"),
        (b"\x00" * 64 + b"\x7f\x10\xda\xbe" + b"\x00" * 444, "vdi"),
    ],
    ids=["vmdk-sparse", "vmdk-cowd", "vmdk-descriptor", "vhdx", "vpc", "qed", "vdi"],
)
def test_foreign_formats_are_refused_by_name_without_running_qemu_img(
    host: RecordingHost, tmp_path: Path, head: bytes, fmt: str
) -> None:
    path = tmp_path / f"base.{fmt}"
    path.write_bytes(head)
    with pytest.raises(ImageError, match=f"is {fmt}; use a qcow2 or raw image"):
        usable_base(host, str(path), "disk_path")
    assert host.commands == []


def test_qcow2_base_with_its_own_backing_file_is_refused(
    host: RecordingHost, tmp_path: Path
) -> None:
    below = tmp_path / "below.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(below), "16M")
    path = tmp_path / "chained.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(below), str(path))
    with pytest.raises(ImageError, match="disk_path"):
        usable_base(host, str(path), "disk_path")
    never_probed(host)


def test_directory_as_base_is_refused(host: RecordingHost, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a regular file"):
        usable_base(host, str(tmp_path), "disk_path")


def test_missing_base_is_refused(host: RecordingHost, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        usable_base(host, str(tmp_path / "nope.qcow2"), "disk_path")


def test_image_info_pins_the_format_it_is_given(host: RecordingHost, tmp_path: Path) -> None:
    path = tmp_path / "o.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(path), "8M")
    info = image_info(host, str(path), "qcow2")
    assert info is not None and (info.format, info.virtual_size) == ("qcow2", 8 * MIB)
    (argv,) = host.commands
    assert argv[argv.index("-f") + 1] == "qcow2"
    assert image_info(host, str(tmp_path / "missing"), "qcow2") is None


def test_image_info_requires_a_format() -> None:
    call: Any = image_info
    with pytest.raises(TypeError):
        call(RecordingHost(), "/x")


def test_a_fleet_asking_for_its_base_at_once_probes_it_once(tmp_path: Path) -> None:
    """The VMs of a preview ask for their shared base together: one probe answers them all
    (each still stats it: a base replaced meanwhile is probed again)."""
    path = tmp_path / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(path), "64M")
    reads: list[str] = []
    gate = threading.Barrier(8)

    class CountingHost(LocalHost):
        def stat(self, path: str) -> FileStat | None:
            found = super().stat(path)
            gate.wait(timeout=10)  # all eight have their stat before any probes
            return found

        def read_chunks(self, path: str, *args: Any, **kwargs: Any) -> Iterator[bytes]:
            reads.append(path)
            return super().read_chunks(path, *args, **kwargs)

    host = CountingHost()
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: usable_base(host, str(path), "disk_path"), range(8)))
    assert len(reads) == 1
    assert all(info is found[0] for info in found)
