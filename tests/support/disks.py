"""Disk inspection with qemu-img and qemu-io, and a marker written into a VM's disk."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any


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
