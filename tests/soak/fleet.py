"""The soak's fleet: ``tests/soak/program`` (one VigoBaseImage, ``count`` VMs defined on it,
one VigoDisk attached to each) in a :class:`~support.lab.Lab`'s world."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from support.disks import qemu_img
from support.lab import Lab

from pulumi_vigo_vm.testing import EngineHarness

PROGRAM = Path(__file__).resolve().parent / "program"


@dataclass
class SoakFleet:
    lab: Lab
    count: int = 3

    @property
    def logs(self) -> Path:
        """Where the fleet's provider processes leave their last words: the harness's
        default, beside the state file (see :mod:`pulumi_vigo_vm.dynamic.lastwords`)."""
        return self.lab.root / "provider-logs"

    def source(self) -> Path:
        """The base image's source: a small qcow2 made once, served as ``file://``."""
        path = self.lab.root / "source.qcow2"
        if not path.exists():
            qemu_img("create", "-q", "-f", "qcow2", str(path), "16M")
        return path

    def harness(self) -> EngineHarness:
        source = self.source()
        config = {
            **self.lab.provider_config(),
            "test:prefix": self.lab.prefix,
            "test:count": str(self.count),
            "test:source": source.as_uri(),
            "test:sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        }
        return self.lab.engine(PROGRAM, config, raise_on_error=False)

    def last_words(self) -> dict[str, str]:
        """Every provider log with something in it (a fault's stacks, an uncaught
        exception), by file name."""
        if not self.logs.exists():
            return {}
        found = {p.name: p.read_text(errors="replace") for p in self.logs.iterdir()}
        return {name: text for name, text in found.items() if text}
