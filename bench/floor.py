"""The raw floor: the same libvirt calls and qemu-img/ISO work, by a minimal script.

No provider, no engine, no spec parsing: libvirt-python, ``qemu-img`` and pycdlib doing
exactly the hypervisor work each operation needs, with the same concurrency the engine
gives the provider (4 VMs at a time: the dynamic provider's gRPC worker pool). The base
image is probed once per run (a script knows all VMs share it). Over SSH it uses one
libvirt qemu+ssh connection and one paramiko connection (exec for qemu-img, SFTP for files).
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import struct
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import libvirt
import paramiko
import pycdlib

from .world import BRIDGE, MEMORY_MIB, USER_DATA, seed_hash

WORKERS = 4


class Files(Protocol):
    """Commands and files on the hypervisor host."""

    def run(self, argv: Sequence[str]) -> str: ...
    def write(self, path: str, data: bytes, mode: int) -> None: ...
    def remove(self, path: str) -> None: ...
    def chmod(self, path: str, mode: int) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def listdir(self, path: str) -> list[str]: ...
    def head(self, path: str, size: int) -> bytes: ...
    def close(self) -> None: ...


class LocalFiles:
    def run(self, argv: Sequence[str]) -> str:
        return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout

    def write(self, path: str, data: bytes, mode: int) -> None:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.rename(tmp, path)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def head(self, path: str, size: int) -> bytes:
        with open(path, "rb") as src:
            return src.read(size)

    def close(self) -> None:
        return None


class SshFiles:
    """One paramiko connection; an SFTP session per worker thread."""

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        query = parse_qs(parsed.query)
        self._client = paramiko.SSHClient()
        self._client.load_host_keys(query["known_hosts"][0])
        self._client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self._client.connect(
            parsed.hostname or "",
            port=parsed.port or 22,
            username=parsed.username,
            key_filename=query["keyfile"][0],
            allow_agent=False,
            look_for_keys=False,
        )
        self._local = threading.local()

    def _sftp(self) -> paramiko.SFTPClient:
        sftp = getattr(self._local, "sftp", None)
        if sftp is None:
            sftp = self._local.sftp = self._client.open_sftp()
        return sftp

    def run(self, argv: Sequence[str]) -> str:
        _, out, err = self._client.exec_command(" ".join(argv))
        text: str = out.read().decode()
        if out.channel.recv_exit_status() != 0:
            raise RuntimeError(err.read().decode())
        return text

    def write(self, path: str, data: bytes, mode: int) -> None:
        sftp = self._sftp()
        tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.tmp")
        with sftp.open(tmp, "wb") as out:
            out.chmod(mode)
            out.write(data)
        sftp.posix_rename(tmp, path)

    def remove(self, path: str) -> None:
        self._sftp().remove(path)

    def chmod(self, path: str, mode: int) -> None:
        self._sftp().chmod(path, mode)

    def rename(self, src: str, dst: str) -> None:
        self._sftp().posix_rename(src, dst)

    def listdir(self, path: str) -> list[str]:
        names: list[str] = self._sftp().listdir(path)
        return names

    def head(self, path: str, size: int) -> bytes:
        with self._sftp().open(path, "rb") as src:
            data: bytes = src.read(size)
            return data

    def close(self) -> None:
        self._client.close()


def qcow2_backing(head: bytes) -> str:
    """The backing file name recorded in a qcow2 header (offset u64 @8, length u32 @16)."""
    magic, _version, offset, length = struct.unpack(">4sIQI", head[:20])
    assert magic == b"QFI\xfb", "not a qcow2 image"
    return head[offset : offset + length].decode()


def seed_iso(vm_name: str) -> bytes:
    """NoCloud seed (user-data + meta-data, volume "cidata"), as the provider builds it."""
    digest = seed_hash()
    meta = json.dumps({"instance-id": f"{vm_name}-{digest}", "local-hostname": vm_name})
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, data in (("user-data", USER_DATA.encode()), ("meta-data", meta.encode())):
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"/{name.upper().replace('-', '_')}.;1",
            rr_name=name,
            joliet_path=f"/{name}",
        )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def domain_xml(name: str, overlay: str, seed: str, domain_type: str = "qemu") -> str:
    """A definition with the same devices as the provider's (disk, seed CD, NIC, console)."""
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = str(MEMORY_MIB)
    ET.SubElement(dom, "vcpu").text = "1"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    devices = ET.SubElement(dom, "devices")
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=overlay)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    ET.SubElement(devices, "controller", type="scsi", index="0", model="virtio-scsi")
    cd = ET.SubElement(devices, "disk", type="file", device="cdrom")
    ET.SubElement(cd, "driver", name="qemu", type="raw")
    ET.SubElement(cd, "source", file=seed)
    ET.SubElement(cd, "target", dev="sda", bus="scsi")
    ET.SubElement(cd, "readonly")
    nic = ET.SubElement(devices, "interface", type="bridge")
    ET.SubElement(nic, "source", bridge=BRIDGE)
    ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=f"/var/log/libvirt/qemu/{name}-console.log", append="on")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    return ET.tostring(dom, encoding="unicode")


@dataclass
class Floor:
    """One run of the minimal script against ``uri`` for the VMs ``names`` in ``images``."""

    uri: str
    images: str
    base: str
    names: list[str]

    def _session(self, work: Callable[[libvirt.virConnect, Files, str], Any]) -> list[Any]:
        """Open the connections, do ``work`` for every VM (4 at a time), close them."""
        # libvirt's own transport spawns ssh; no_tty=1 keeps it from ever prompting
        conn = libvirt.open(f"{self.uri}&no_tty=1" if "+ssh" in self.uri else self.uri)
        files: Files = SshFiles(self.uri) if "+ssh" in self.uri else LocalFiles()
        try:
            with ThreadPoolExecutor(WORKERS) as pool:
                return list(pool.map(lambda name: work(conn, files, name), self.names))
        finally:
            files.close()
            conn.close()

    def _paths(self, name: str) -> tuple[str, str]:
        seed = posixpath.join(self.images, f"{name}-seed-{seed_hash()[:8]}.iso")
        return posixpath.join(self.images, f"{name}.qcow2"), seed

    def create(self, *, start: bool) -> None:
        """Overlay (qemu-img create -F -b), seed ISO (pycdlib, 0600, rename), define[, start]."""
        base_info: dict[str, str] = {}
        lock = threading.Lock()

        def one(conn: libvirt.virConnect, files: Files, name: str) -> None:
            with lock:  # the base is probed once per run
                if not base_info:
                    info = json.loads(
                        files.run(["qemu-img", "info", "-U", "--output=json", self.base])
                    )
                    base_info["format"] = info["format"]
            overlay, seed = self._paths(name)
            tmp = overlay + ".tmp"
            files.run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    base_info["format"],
                    "-b",
                    self.base,
                    tmp,
                ]
            )
            files.chmod(tmp, 0o600)
            files.rename(tmp, overlay)
            files.write(seed, seed_iso(name), 0o600)
            dom = conn.defineXML(domain_xml(name, overlay, seed))
            if start:
                dom.create()

        self._session(one)

    def observe(self) -> None:
        """What a no-op diff must read: definition, run state, seed listing, overlay backing.

        The overlay's backing file is read from its qcow2 header (one 4 KiB read; over SSH one
        SFTP read), the cheapest way there is: no ``qemu-img`` process.
        """

        def one(conn: libvirt.virConnect, files: Files, name: str) -> None:
            overlay, seed = self._paths(name)
            dom = conn.lookupByName(name)
            ET.fromstring(dom.XMLDesc(0))
            dom.state()
            assert posixpath.basename(seed) in files.listdir(self.images)
            assert qcow2_backing(files.head(overlay, 4096)) == self.base

        self._session(one)

    def read(self) -> None:
        """What a refresh of a defined VM must read: its definition and run state."""

        def one(conn: libvirt.virConnect, _files: Files, name: str) -> None:
            dom = conn.lookupByName(name)
            ET.fromstring(dom.XMLDesc(0))
            dom.state()

        self._session(one)

    def stop(self) -> None:
        """Forced power-off (what shutdown_timeout_s=0 means)."""
        self._session(lambda conn, _f, name: conn.lookupByName(name).destroy())

    def start(self) -> None:
        self._session(lambda conn, _f, name: conn.lookupByName(name).create())

    def delete(self) -> None:
        """Power off if running, undefine, remove overlay and seed."""

        def one(conn: libvirt.virConnect, files: Files, name: str) -> None:
            dom = conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
            for path in self._paths(name):
                files.remove(path)

        self._session(one)
