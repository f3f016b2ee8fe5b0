"""Helpers for the example tests: a stack of one example, disk markers, image info."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from pulumi_vigo_vm.testing import EngineHarness, RunResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOCAL_URI = "qemu:///system"
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def write_marker(overlay: Path) -> None:
    """Write 64 KiB of 0xab at 1 MiB into the VM's disk (the guest must be powered off)."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 64k", str(overlay)],
        check=True,
        capture_output=True,
    )


def has_marker(overlay: Path) -> bool:
    """Whether the marker is still there (readable while the guest runs: -U, read-only)."""
    proc = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", "qcow2", "-c", "read -P 0xab 1M 64k", str(overlay)],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout


@dataclass
class Stack:
    """One example project deployed as a stack under test."""

    example: str
    root: Path
    vm_name: str
    conn: libvirt.virConnect
    config: dict[str, str]

    @property
    def project(self) -> str:
        return f"vigo-{self.example}"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def base(self) -> Path:
        return self.root / "base.qcow2"

    @property
    def overlay(self) -> Path:
        return self.images_dir / f"{self.vm_name}.qcow2"

    def seeds(self) -> list[Path]:
        return sorted(self.images_dir.glob(f"{self.vm_name}-seed-*.iso"))

    def set(self, key: str, value: str) -> None:
        """``pulumi config set KEY VALUE`` for the example's own namespace."""
        self.config[f"{self.project}:{key}"] = value

    def harness(self) -> EngineHarness:
        return EngineHarness(
            EXAMPLES / self.example,
            state_file=self.root / "state.json",
            config=self.config,
            timeout=120,
        )

    def up(self) -> RunResult:
        return self.harness().up()

    def preview(self) -> RunResult:
        return self.harness().preview()

    def destroy(self) -> RunResult:
        return self.harness().destroy()

    def domain(self) -> libvirt.virDomain | None:
        try:
            return self.conn.lookupByName(self.vm_name)
        except libvirt.libvirtError:
            return None

    def power(self) -> str:
        dom = self.domain()
        if dom is None:
            return "absent"
        return "running" if dom.isActive() else "stopped"

    def cleanup(self) -> None:
        dom = self.domain()
        if dom is not None:
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        # libvirt keeps the qemu and console logs of an undefined domain: drop this test's.
        for log in (f"{self.vm_name}.log", f"{self.vm_name}-console.log"):
            (QEMU_LOG_DIR / log).unlink(missing_ok=True)
