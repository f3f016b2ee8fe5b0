"""Disk inspection with qemu-img and qemu-io, and a marker written into a VM's disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

SPELLINGS = ("symlink", "dotdot", "hardlink")
"""Other names of one file, as :func:`another_name` makes them."""


def another_name(root: Path, path: Path, how: str) -> str:
    """Another name (in directory ``root``) of the file ``path``, made ``how``: a symlink to
    it; ``..`` after a symlink to its directory (so the string, normalised, names another
    path); or a hard link (``root`` on ``path``'s filesystem)."""
    if how == "symlink":
        (root / f"link-{path.name}").symlink_to(path)
        return str(root / f"link-{path.name}")
    if how == "dotdot":
        (root / "via").mkdir(exist_ok=True)
        jump = root / "via" / f"jump-{path.name}"
        jump.symlink_to(path.parent)
        spelled = f"{jump}/../{path.parent.name}/{path.name}"
        assert os.path.samefile(spelled, path) and os.path.normpath(spelled) != str(path)
        return spelled
    assert how == "hardlink"
    os.link(path, root / f"hard-{path.name}")
    return str(root / f"hard-{path.name}")


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def image_info(path: Path) -> dict[str, Any]:
    return json.loads(qemu_img("info", "-U", "--output=json", str(path)))  # type: ignore[no-any-return]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_marker(overlay: Path, pattern: int = 0xAB) -> None:
    """Write 64 KiB of ``pattern`` at offset 1 MiB into the VM's disk (guest not running)."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} 1M 64k", str(overlay)],
        check=True,
        capture_output=True,
    )


def has_marker(overlay: Path, pattern: int = 0xAB) -> bool:
    proc = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P {pattern:#x} 1M 64k", str(overlay)],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout
