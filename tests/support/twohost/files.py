"""Host B's private directories, written under the rig's directory before B's mount namespace
binds them over the real ones: copies, never the host's own files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .plan import (
    PRIVATE_DIRS,
    RigPlan,
    hosts_text,
    libvirtd_settings,
    overridden,
    qemu_settings,
)

CONFIG_OVERRIDES = {"libvirtd.conf": libvirtd_settings, "qemu.conf": qemu_settings}
"""The config files B changes; every other top-level file of /etc/libvirt is copied as is."""

COPIED_CONFIG_DIRS = ("nwfilter",)
"""Subdirectories of /etc/libvirt B gets a copy of: the packaged network filters. Not
``qemu/`` (A's domains and networks), ``secrets/``, ``storage/`` or ``hooks/``."""


def write_private_dirs(plan: RigPlan, hostname_a: str) -> None:
    """B's /etc/libvirt (this host's config with B's settings), the first level of
    /var/lib/libvirt and /var/log/libvirt (empty, with this host's owners and modes), an
    empty /var/cache/libvirt, and B's /etc/hosts."""
    etc = plan.private_source("/etc/libvirt")
    etc.mkdir(parents=True)
    for entry in Path("/etc/libvirt").iterdir():
        if entry.is_file():
            settings = CONFIG_OVERRIDES.get(entry.name)
            text = entry.read_text()
            (etc / entry.name).write_text(overridden(text, settings(plan)) if settings else text)
            shutil.copymode(entry, etc / entry.name)
        elif entry.name in COPIED_CONFIG_DIRS:
            shutil.copytree(entry, etc / entry.name)
    (etc / "qemu").mkdir()
    for path in PRIVATE_DIRS[1:]:
        _skeleton(Path(path), plan.private_source(path))
    plan.hosts_file.write_text(hosts_text(plan, hostname_a))


def _skeleton(source: Path, target: Path) -> None:
    """``target`` and one empty directory per directory in ``source``, owners and modes kept
    (only ``target`` when this host has no ``source``)."""
    if not source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    for src, dst in [(source, target), *((d, target / d.name) for d in _subdirs(source))]:
        dst.mkdir(parents=True, exist_ok=True)
        info = src.stat()
        os.chown(dst, info.st_uid, info.st_gid)
        dst.chmod(info.st_mode & 0o7777)


def _subdirs(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return [entry for entry in path.iterdir() if entry.is_dir() and not entry.is_symlink()]
