"""The benchmark's world: a base image, an images dir, VM declarations, and cleanup.

Everything lives under one world-traversable directory in /var/tmp (qemu runs as
libvirt-qemu) and every domain is named ``bench-<tag>-<i>``; :meth:`World.cleanup`
removes exactly what this process made.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt

LOCAL_URI = "qemu:///system"
BRIDGE = "vigobr0"
MEMORY_MIB = 64
BASE_VIRTUAL = "1G"
BASE_DATA_MIB = 64  # written into the base so "bytes per VM vs base" means something
USER_DATA = "#cloud-config\nhostname: bench\nruncmd:\n  - [echo, vigo-bench]\n"


def _quiet(conn_errors: object, _err: object) -> None:
    return None


libvirt.registerErrorHandler(_quiet, None)


def seed_hash(user_data: str = USER_DATA) -> str:
    return hashlib.sha256(user_data.encode()).hexdigest()


@dataclass
class World:
    """One benchmark run's files and names. ``uri`` is the transport under test."""

    root: Path
    uri: str
    _conn: libvirt.virConnect  # always local: for cleanup and storage checks
    token: str = field(default_factory=lambda: secrets.token_hex(2))

    @classmethod
    @contextlib.contextmanager
    def create(cls, uri: str = LOCAL_URI) -> Iterator[World]:
        root = Path(tempfile.mkdtemp(prefix="bench-", dir="/var/tmp"))
        root.chmod(0o755)
        conn = libvirt.open(LOCAL_URI)
        world = cls(root, uri, conn)
        try:
            world._make_base()
            yield world
        finally:
            world.cleanup()
            with contextlib.suppress(libvirt.libvirtError):
                world.conn.close()
            shutil.rmtree(root, ignore_errors=True)

    @property
    def conn(self) -> libvirt.virConnect:
        """The local connection, reopened if libvirtd restarted meanwhile."""
        try:
            if self._conn.isAlive() == 1:
                return self._conn
        except libvirt.libvirtError:
            pass
        self._conn = libvirt.open(LOCAL_URI)
        return self._conn

    def _make_base(self) -> None:
        self.bridge()
        base = str(self.base)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, BASE_VIRTUAL], check=True)
        write = f"write -P 0x5a 0 {BASE_DATA_MIB}M"
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", write, base], check=True, capture_output=True
        )
        self.base.chmod(0o644)

    @staticmethod
    def bridge() -> str:
        if not Path(f"/sys/class/net/{BRIDGE}").exists():
            subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
            subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
        return BRIDGE

    @property
    def base(self) -> Path:
        return self.root / "base.qcow2"

    def images_dir(self, tag: str) -> Path:
        """A per-actor images dir (its name also names virt-install's storage pool)."""
        path = self.root / f"bench-img-{tag}"
        path.mkdir(mode=0o755, exist_ok=True)
        path.chmod(0o755)
        return path

    def names(self, tag: str, n: int) -> list[str]:
        """Domain names: ``bench-<run token><tag>-<i>`` (only ``bench-`` names are ours)."""
        return [f"{self.prefix(tag)}{i:03d}" for i in range(n)]

    def prefix(self, tag: str | None = None) -> str:
        return f"bench-{self.token}{tag}-" if tag else f"bench-{self.token}"

    def declarations(self, tag: str, n: int, state: str) -> dict[str, dict[str, Any]]:
        """The ``test:vms`` config of the integration program: N VMs from one base."""
        return {
            name: {
                "vm_name": name,
                "memory_mib": MEMORY_MIB,
                "vcpu": 1,
                "disk_path": str(self.base),
                "network_bridge": BRIDGE,
                "cloud_init_user_data": USER_DATA,
                "state": state,
                # blank disks ignore ACPI: a stop is a forced power-off (see BENCHMARKS.md)
                "shutdown_timeout_s": 0,
            }
            for name in self.names(tag, n)
        }

    def files_bytes(self, tag: str) -> tuple[int, int]:
        """(allocated, apparent) bytes of every file in ``tag``'s images dir."""
        allocated = apparent = 0
        for path in self.images_dir(tag).iterdir():
            st = path.stat()
            allocated += st.st_blocks * 512
            apparent += st.st_size
        return allocated, apparent

    def base_bytes(self) -> tuple[int, int]:
        st = self.base.stat()
        return st.st_blocks * 512, st.st_size

    def cleanup(self, tag: str | None = None) -> None:
        """Destroy and undefine this world's domains (all, or one actor's), pools and files."""
        prefix = self.prefix(tag)
        for dom in self.conn.listAllDomains():
            if not dom.name().startswith(prefix) or not self._ours(dom):
                continue
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        for pool in self.conn.listAllStoragePools():
            target = ET.fromstring(pool.XMLDesc()).findtext("target/path") or ""
            if target.startswith(str(self.root)) and (tag is None or target.endswith(f"-{tag}")):
                with contextlib.suppress(libvirt.libvirtError):
                    if pool.isActive():
                        pool.destroy()
                    pool.undefine()
        dirs = [self.images_dir(tag)] if tag else list(self.root.glob("bench-img-*"))
        for directory in dirs:
            for path in directory.iterdir():
                path.unlink()

    def _ours(self, dom: libvirt.virDomain) -> bool:
        """Only domains whose disks live in this world's directory."""
        try:
            return str(self.root) in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError:
            return False
