"""The machine description published with every run (CPU, RAM, kernel, versions, KVM)."""

from __future__ import annotations

import os
import platform
import subprocess

import libvirt


def _first(path: str, key: str) -> str:
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def describe(uri: str = "qemu:///system") -> dict[str, str]:
    """What the numbers were measured on."""
    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0])
    conn = libvirt.open(uri)
    try:
        libvirt_version = _version(conn.getLibVersion())
        qemu_version = _version(conn.getVersion())
    finally:
        conn.close()
    qemu_img = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True)
    rev = subprocess.run(
        ["git", "log", "-1", "--format=%h %s", "--", "pulumi_vigo_vm"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "pulumi_vigo_vm commit": rev or "?",
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kib / 1024**2:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libvirt": libvirt_version,
        "qemu": qemu_version,
        "qemu-img": qemu_img.stdout.splitlines()[0] if qemu_img.stdout else "?",
        "accel": "TCG (domain type qemu; KVM not used)",
        "load1 at start": f"{os.getloadavg()[0]:.2f}",
    }
