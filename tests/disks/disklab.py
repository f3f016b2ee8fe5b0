"""The DiskLab: one test's data disks declared to ``tests/disks/program``, domains that use
them defined with plain libvirt (the package knows nothing of them: "foreign"), and the
engine harness that deploys the disks."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt
from support.lab import Lab

from pulumi_vigo_vm.testing import EngineHarness, RunResult

PROGRAM = Path(__file__).resolve().parent / "program"
GIB = 1024**3


@dataclass
class DiskLab:
    """A :class:`~support.lab.Lab` (its world, URI, config and cleanup of domains by prefix)
    holding VigoDisks instead of VMs."""

    lab: Lab
    disks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def disk(self, short: str, **args: Any) -> dict[str, Any]:
        """Declare (or redeclare) disk ``short``: 1 GiB qcow2 unless told otherwise."""
        declared = {"name": self.lab.name(short), "size_gib": 1, **args}
        self.disks[short] = {k: v for k, v in declared.items() if v is not None}
        return self.disks[short]

    def harness(self, stack: str = "dev") -> EngineHarness:
        """The engine harness for the declared disks; another ``stack`` has its own state
        (and so its own claims)."""
        config = {"test:disks": json.dumps(self.disks), **self.lab.provider_config()}
        return self.lab.engine(PROGRAM, config, stack)

    def up(self) -> RunResult:
        return self.harness().up()

    def path(self, short: str, fmt: str = "qcow2") -> Path:
        return self.lab.images_dir / "disks" / f"{self.lab.name(short)}.{fmt}"

    def outputs(self, short: str) -> dict[str, Any]:
        for res in self.harness().snapshot().ordered():
            if res.name == short:
                outputs: dict[str, Any] = res.plain_outputs()
                return outputs
        raise KeyError(short)

    def foreign_domain(
        self, short: str, disks: list[tuple[Path | str, str]], *, running: bool = False
    ) -> libvirt.virDomain:
        """Define (and start) a domain with plain libvirt whose disks are ``disks``
        ((path, format), as vdb, vdc...). No bootable OS: a started one still runs."""
        root = ET.Element("domain", type="qemu")
        ET.SubElement(root, "name").text = self.lab.name(short)
        ET.SubElement(root, "memory", unit="MiB").text = "64"
        os_ = ET.SubElement(root, "os")
        ET.SubElement(os_, "type").text = "hvm"
        ET.SubElement(ET.SubElement(root, "features"), "acpi")  # PCI hotplug needs it
        devices = ET.SubElement(root, "devices")
        for index, (path, fmt) in enumerate(disks):
            disk = ET.SubElement(devices, "disk", type="file", device="disk")
            ET.SubElement(disk, "driver", name="qemu", type=fmt)
            ET.SubElement(disk, "source", file=str(path))
            ET.SubElement(disk, "target", dev=f"vd{chr(ord('b') + index)}", bus="virtio")
        domain = self.lab.live_conn().defineXML(ET.tostring(root, encoding="unicode"))
        if running:
            domain.create()
        return domain


def qemu_io(path: Path, fmt: str, command: str, *, running: bool = False) -> str:
    """Run one qemu-io ``command`` on ``path``; while a guest holds it, read-only and
    force-shared (``-r -U``). Returns its output; raises on a failed command."""
    flags = ["-r", "-U"] if running else []
    proc = subprocess.run(
        ["qemu-io", *flags, "-f", fmt, "-c", command, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "failed" not in proc.stdout.lower(), proc.stdout
    return proc.stdout


def write_pattern(path: Path, fmt: str, pattern: int = 0xA5) -> None:
    """64 KiB of ``pattern`` at offset 1 MiB (no guest holds the disk)."""
    qemu_io(path, fmt, f"write -P {pattern:#x} 1M 64k")


def has_pattern(path: Path, fmt: str, pattern: int = 0xA5, *, running: bool = False) -> bool:
    try:
        qemu_io(path, fmt, f"read -P {pattern:#x} 1M 64k", running=running)
    except (subprocess.CalledProcessError, AssertionError):
        return False
    return True
