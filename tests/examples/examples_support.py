"""Helpers for the example tests: a stack of one example, disk markers, image info."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libvirt
from integration.vmlab import has_marker, image_info, sha256, write_marker

from pulumi_vigo_vm.ownership import console_log_path
from pulumi_vigo_vm.testing import EngineHarness, RunResult

__all__ = ["EXAMPLES", "Stack", "has_marker", "image_info", "sha256", "write_marker"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOCAL_URI = "qemu:///system"
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")


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
        # libvirt keeps the qemu log of an undefined domain, and a failed test may leave
        # the console log behind: drop this test's.
        (QEMU_LOG_DIR / f"{self.vm_name}.log").unlink(missing_ok=True)
        Path(console_log_path(self.vm_name)).unlink(missing_ok=True)
