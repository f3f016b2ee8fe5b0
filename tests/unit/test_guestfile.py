"""The rule for files a guest writes (imageformat.refusal, guestfile.inspect), on headers
real qemu-img makes, and the guard that keeps every qemu-img run on such a file behind it."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

import pulumi_vigo_vm
from pulumi_vigo_vm.common.qcow2 import HEADER_READ_SIZE
from pulumi_vigo_vm.errors import ImageError
from pulumi_vigo_vm.hostfile.guestfile import inspect
from pulumi_vigo_vm.hostfile.imageformat import header_image, probe_format, refusal
from pulumi_vigo_vm.hosts.local import LocalHost

PACKAGE = Path(pulumi_vigo_vm.__file__).parent


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=60)


def verdict(path: Path, declared: str, backing: str | None = None) -> str | None:
    head = path.read_bytes()[:HEADER_READ_SIZE]
    return refusal(declared, probe_format(head), header_image(str(path), head), backing=backing)


def test_a_file_is_used_only_as_the_format_its_magic_shows(tmp_path: Path) -> None:
    qcow2, raw = tmp_path / "a.qcow2", tmp_path / "a.raw"
    qemu_img("create", "-q", "-f", "qcow2", str(qcow2), "1M")
    qemu_img("create", "-q", "-f", "raw", str(raw), "1M")
    vmdk = tmp_path / "a.vmdk"
    qemu_img("create", "-q", "-f", "vmdk", str(vmdk), "1M")

    assert verdict(qcow2, "qcow2") is None
    assert verdict(raw, "raw") is None
    assert "holds a qcow2 header but is declared raw" in (verdict(qcow2, "raw") or "")
    assert "is not a qcow2 image" in (verdict(raw, "qcow2") or "")
    for declared in ("raw", "qcow2"):
        assert "is a vmdk image" in (verdict(vmdk, declared) or "")


def test_a_qcow2_naming_any_file_but_the_expected_backing_is_refused(tmp_path: Path) -> None:
    base, other = tmp_path / "base.raw", tmp_path / "other.raw"
    for path in (base, other):
        qemu_img("create", "-q", "-f", "raw", str(path), "1M")
    overlay, data = tmp_path / "overlay.qcow2", tmp_path / "data.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(overlay))
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={other}", str(data), "1M")

    assert verdict(overlay, "qcow2", backing=str(base)) is None
    assert "has a backing file" in (verdict(overlay, "qcow2") or "")
    assert "has a backing file" in (verdict(overlay, "qcow2", backing=str(other)) or "")
    assert f"external file ({other})" in (verdict(data, "qcow2") or "")
    assert "external file" in (verdict(data, "qcow2", backing=str(other)) or "")


def test_a_qcow2_header_that_cannot_be_read_in_full_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "a.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(image), "1M")
    data = bytearray(image.read_bytes())
    data[4:8] = (9).to_bytes(4, "big")  # a version this package does not know
    image.write_bytes(bytes(data))
    assert "cannot read in full" in (verdict(image, "qcow2") or "")


def test_inspect_refuses_before_anything_runs_naming_what_it_is(tmp_path: Path) -> None:
    image = tmp_path / "a.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(image), "1M")
    with pytest.raises(ImageError, match=f"^VigoDisk: {image} on localhost holds a qcow2"):
        inspect(LocalHost(), str(image), "raw", "VigoDisk")
    assert inspect(LocalHost(), str(image), "qcow2", "VigoDisk").virtual_size == 1 << 20


def qemu_img_verbs() -> dict[str, set[str]]:
    """Each qemu-img verb the package runs -> the modules whose argv literals name it."""
    found: dict[str, set[str]] = {}
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, (ast.List, ast.Tuple)):
                continue
            words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if "qemu-img" in words[:-1]:
                verb = words[words.index("qemu-img") + 1]
                found.setdefault(str(verb), set()).add(str(source.relative_to(PACKAGE)))
    return found


def test_qemu_img_reaches_a_file_a_guest_writes_only_through_guestfile() -> None:
    """The class guard: ``resize`` and ``snapshot`` (and any new verb: amend, rebase...) on a
    disk run only in guestfile, behind inspect; ``create`` only makes new files at temporary
    names; ``info`` only reads bases (VigoBaseImage files, plain disk_path files); ``convert``
    only copies a base usable_base has inspected into a new file at a temporary name (a root
    copy, disk_mode="copy")."""
    assert qemu_img_verbs() == {
        "resize": {"hostfile/guestfile.py"},
        "snapshot": {"hostfile/guestfile.py"},
        "create": {"hostfile/images.py", "disk/effects.py"},
        "info": {"hostfile/images.py"},
        "convert": {"hostfile/images.py"},
    }
    callers = set()
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "image_info":
                callers.add(str(source.relative_to(PACKAGE)))
    assert callers == {"hostfile/images.py"}, "qemu-img info on a disk a guest writes: use inspect"
