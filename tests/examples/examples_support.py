"""Helpers for the example tests: a stack of one example, over the shared Lab's world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import libvirt
from support.lab import Lab
from support.world import lifetime

from pulumi_vigo_vm.testing import EngineHarness, RunResult
from pulumi_vigo_vm.vm.filenames import console_log_path

__all__ = ["EXAMPLES", "Stack"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")


@dataclass
class Stack:
    """One example project deployed as a stack under test: its one VM is ``example`` in
    ``lab`` (so named ``<lab prefix>-<example>``), its config ``config``."""

    example: str
    lab: Lab
    config: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.lab.root

    @property
    def project(self) -> str:
        return f"vigo-{self.example}"

    @property
    def vm_name(self) -> str:
        return self.lab.name(self.example)

    @property
    def images_dir(self) -> Path:
        return self.lab.images_dir

    @property
    def base(self) -> Path:
        """A blank 64 MiB qcow2 (made on first use)."""
        return self.lab.base()

    @property
    def overlay(self) -> Path:
        return self.lab.overlay(self.example)

    def seeds(self) -> list[Path]:
        return self.lab.seeds(self.example)

    def set(self, key: str, value: str) -> None:
        """``pulumi config set KEY VALUE`` for the example's own namespace."""
        self.config[f"{self.project}:{key}"] = value

    def harness(self) -> EngineHarness:
        return self.lab.engine(EXAMPLES / self.example, self.config, timeout=120)

    def up(self) -> RunResult:
        return self.harness().up()

    def preview(self) -> RunResult:
        return self.harness().preview()

    def destroy(self) -> RunResult:
        return self.harness().destroy()

    def domain(self) -> libvirt.virDomain | None:
        return self.lab.domain(self.example)

    def power(self) -> str:
        return self.lab.power(self.example)

    def cleanup(self) -> None:
        self.lab.cleanup()
        # libvirt keeps the qemu log of an undefined domain, and a failed test may leave
        # the console log behind: drop this test's.
        (QEMU_LOG_DIR / f"{self.vm_name}.log").unlink(missing_ok=True)
        Path(console_log_path(self.vm_name)).unlink(missing_ok=True)

    def lifetime(self) -> Iterator[Self]:
        """This stack for a fixture's whole use (see :func:`support.world.lifetime`)."""
        return lifetime(self)
