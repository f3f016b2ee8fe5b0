"""The names of a VM's own files on its hypervisor, stated once. Pure.

Every rule that asks "is this one of the VM's files" (a base at the overlay's name, a data
disk that is a seed, the files a delete may remove) builds the names here.
"""

from __future__ import annotations

import posixpath
from typing import Final

__all__ = [
    "CONSOLE_LOG_DIR",
    "console_log_path",
    "legacy_console_log_path",
    "nvram_path",
    "overlay_path",
    "seed_iso_path",
    "seed_iso_prefix",
]

CONSOLE_LOG_DIR: Final = "/var/log/libvirt/vigo"
"""Serial console logs live in a folder of their own: a domain name cannot contain ``/``, so
no log libvirt keeps for any domain (``/var/log/libvirt/qemu/<name>.log``) can collide."""


def console_log_path(vm_name: str) -> str:
    """Where virtlogd keeps the serial console of ``vm_name``."""
    return posixpath.join(CONSOLE_LOG_DIR, f"{vm_name}.console.log")


def legacy_console_log_path(vm_name: str) -> str:
    """Where the previous release had virtlogd keep it."""
    return f"/var/log/libvirt/qemu/{vm_name}-console.log"


def overlay_path(images_dir: str, vm_name: str) -> str:
    """``<images_dir>/<vm_name>.qcow2``: the VM's own writable disk."""
    return posixpath.join(images_dir, f"{vm_name}.qcow2")


def nvram_path(images_dir: str, vm_name: str) -> str:
    """``<images_dir>/<vm_name>@VARS.fd``: the VM's UEFI variables (``@`` cannot occur in a
    vm_name, so no other VM's file has this name)."""
    return posixpath.join(images_dir, f"{vm_name}@VARS.fd")


def seed_iso_prefix(vm_name: str) -> str:
    """The file-name prefix every seed ISO of ``vm_name`` shares, whatever its hash."""
    return f"{vm_name}-seed-"


def seed_iso_path(images_dir: str, vm_name: str, seed_hash: str) -> str:
    """``<images_dir>/<vm_name>-seed-<hash>.iso``."""
    return posixpath.join(images_dir, f"{seed_iso_prefix(vm_name)}{seed_hash}.iso")
