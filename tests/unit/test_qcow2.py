"""The qcow2 header parser agrees with qemu-img on images qemu-img makes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pulumi_vigo_vm.common.qcow2 import HEADER_READ_SIZE, parse_header


def _qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def raw_base(tmp_path: Path) -> Path:
    path = tmp_path / "base.raw"
    _qemu_img("create", "-q", "-f", "raw", str(path), "16M")
    return path


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["-o", "compat=0.10"],
        ["-o", "cluster_size=4096"],
        ["-o", "lazy_refcounts=on"],
    ],
    ids=["v3", "v2", "small-clusters", "lazy-refcounts"],
)
@pytest.mark.parametrize("size", [None, "1G", "5000M"])
def test_header_matches_qemu_img_info(
    tmp_path: Path, raw_base: Path, options: list[str], size: str | None
) -> None:
    overlay = tmp_path / "overlay.qcow2"
    argv = ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(raw_base), *options]
    _qemu_img(*argv, str(overlay), *([size] if size else []))
    info = json.loads(_qemu_img("info", "--output=json", str(overlay)))

    header = parse_header(overlay.read_bytes()[:HEADER_READ_SIZE])

    assert header is not None
    assert header.virtual_size == info["virtual-size"]
    assert header.backing_file == info["backing-filename"]
    assert header.backing_format == info.get("backing-filename-format")
    assert header.data_file is None


def test_external_data_file_is_reported(tmp_path: Path) -> None:
    image = tmp_path / "with-data.qcow2"
    _qemu_img(
        "create", "-q", "-f", "qcow2", "-o", f"data_file={tmp_path / 'd.raw'}", str(image), "8M"
    )
    header = parse_header(image.read_bytes()[:HEADER_READ_SIZE])
    assert header is not None and header.data_file == str(tmp_path / "d.raw")
    assert header.backing_file is None


@pytest.mark.parametrize("data", [b"", b"QFI", b"\x00" * 4096, b"QFI\xfb" + b"\x00" * 60])
def test_non_qcow2_or_truncated_bytes_give_none(data: bytes) -> None:
    assert parse_header(data) is None


def test_backing_name_beyond_the_bytes_read_gives_none(tmp_path: Path, raw_base: Path) -> None:
    overlay = tmp_path / "o.qcow2"
    _qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(raw_base), str(overlay))
    assert parse_header(overlay.read_bytes()[:200]) is None
