"""A Bench: one test's world of VigoBaseImages (and VMs on them) over the shared Lab, the
image server they download from, and what the tests inspect."""

from __future__ import annotations

import hashlib
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from support.lab import Lab
from support.world import lifetime

from pulumi_vigo_vm.testing import EngineHarness, RunResult

from .server import ImageServer

PROGRAM = Path(__file__).resolve().parent / "program"
IDLE_TIMEOUT_S = 20
"""Generous: a loaded 2-CPU machine can starve a transfer for seconds. The stall test sets
its own short one."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def qcow2_bytes(directory: Path, size: str) -> bytes:
    """A fresh standalone qcow2 image of virtual ``size``, as bytes (qemu-img makes it)."""
    path = directory / f"made-{size}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    data = path.read_bytes()
    path.unlink()
    return data


@dataclass
class Bench:
    """One test's images (``images``: resource name -> args), VMs, server and harness."""

    lab: Lab
    server: ImageServer
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    vms: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.lab.root

    @property
    def bases_dir(self) -> Path:
        """Where default paths go: ``<images_dir>/bases``."""
        return self.lab.images_dir / "bases"

    def image(self, name: str, **args: Any) -> dict[str, Any]:
        """Declare (or redeclare) base image ``name``."""
        self.images[name] = {k: v for k, v in args.items() if v is not None}
        return self.images[name]

    def vm(self, name: str, base: str, **args: Any) -> None:
        """Declare VigoVm ``name`` (domain ``<prefix>-<name>``) on base image ``base``."""
        self.vms[name] = {
            "vm_name": self.lab.name(name),
            "memory_mib": 64,
            "vcpu": 1,
            "state": "defined",
            "base": base,
            **args,
        }

    def harness(self, **kwargs: Any) -> EngineHarness:
        config = {
            **self.lab.provider_config(),
            "vigo:downloadIdleTimeoutS": str(IDLE_TIMEOUT_S),
            "test:images": json.dumps(self.images),
            "test:vms": json.dumps(self.vms),
            **self.config,
        }
        return self.lab.engine(PROGRAM, config, timeout=180, **kwargs)

    def up(self) -> RunResult:
        return self.harness().up()

    def failing(self, verb: str = "up") -> str:
        """Run ``verb``, which must fail; the error text."""
        result: RunResult = getattr(self.harness(raise_on_error=False), verb)()
        assert not result.ok, f"{verb} did not fail:\n{result.summary()}"
        return "\n".join(str(error) for error in result.errors)

    def files(self, directory: Path | None = None) -> set[str]:
        """Every name in ``directory`` (default the bases dir), hidden ones included."""
        directory = directory or self.bases_dir
        return {p.name for p in directory.iterdir()} if directory.exists() else set()

    def plain_domain(self, name: str, base: Path) -> Path:
        """Define a libvirt domain (not ours) whose overlay backs onto ``base``."""
        overlay = self.root / f"{name}.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base),
             str(overlay)],
            check=True,
        )  # fmt: skip
        domain = ET.Element("domain", type="qemu")
        ET.SubElement(domain, "name").text = self.lab.name(name)
        ET.SubElement(domain, "memory", unit="MiB").text = "64"
        ET.SubElement(domain, "vcpu").text = "1"
        os_ = ET.SubElement(domain, "os")
        ET.SubElement(os_, "type", arch="x86_64").text = "hvm"
        devices = ET.SubElement(domain, "devices")
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="qcow2")
        ET.SubElement(disk, "source", file=str(overlay))
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
        self.lab.live_conn().defineXML(ET.tostring(domain, encoding="unicode"))
        return overlay

    def undefine(self, name: str) -> None:
        self.lab.live_conn().lookupByName(self.lab.name(name)).undefine()

    def cleanup(self) -> None:
        self.lab.cleanup()

    def lifetime(self) -> Iterator[Self]:
        return lifetime(self)
