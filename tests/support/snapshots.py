"""The Lab of VigoSnapshot tests (:class:`SnapshotLab`: a :class:`~support.lab.Lab` whose
stack also declares VigoSnapshots, driving ``tests/snapshots/program``), and a qcow2's
internal snapshots read with qemu-img. Shared by ``tests/snapshots`` and the booted proof in
``tests/e2e``."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt

from pulumi_vigo_vm.testing import EngineHarness, RunResult

from .lab import Lab
from .world import TESTS

PROGRAM = TESTS / "snapshots" / "program"


@dataclass
class SnapshotLab:
    """A :class:`~support.lab.Lab` whose stack also declares VigoSnapshots."""

    lab: Lab
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def snapshot(self, short: str, vm: str, **args: Any) -> dict[str, Any]:
        """Declare snapshot ``short`` of VM ``vm`` (its ``vm_name`` Output)."""
        self.snapshots[short] = {"vm": vm, **args}
        return self.snapshots[short]

    def harness(self, stack: str = "dev") -> EngineHarness:
        config = {
            "test:vms": json.dumps(self.lab.vms),
            "test:disks": json.dumps(self.lab.disks),
            "test:snapshots": json.dumps(self.snapshots),
            **self.lab.provider_config(),
        }
        return self.lab.engine(PROGRAM, config, stack)

    def up(self) -> RunResult:
        return self.harness().up()

    def outputs(self, short: str) -> dict[str, Any]:
        for res in self.harness().snapshot().ordered():
            if res.name == short:
                outputs: dict[str, Any] = res.plain_outputs()
                return outputs
        raise KeyError(short)

    def domain(self, short: str) -> libvirt.virDomain:
        domain = self.lab.domain(short)
        assert domain is not None, f"no domain for {short}"
        return domain

    def libvirt_snapshots(self, short: str) -> dict[str, str]:
        """The snapshots libvirt keeps for VM ``short``: name -> description."""
        domain = self.lab.domain(short)
        if domain is None:
            return {}
        found = {}
        for snapshot in domain.listAllSnapshots(0):
            xml = snapshot.getXMLDesc(0)
            start, end = xml.find("<description>"), xml.find("</description>")
            found[snapshot.getName()] = xml[start + 13 : end] if start >= 0 else ""
        return found

    def hand_made(self, short: str, name: str) -> None:
        """Take an offline snapshot of VM ``short`` with plain libvirt, as an operator would."""
        xml = f"<domainsnapshot><name>{name}</name><memory snapshot='no'/></domainsnapshot>"
        self.domain(short).snapshotCreateXML(xml, 0)


def internal_snapshots(path: Path) -> list[str]:
    """The names of the internal snapshots inside the qcow2 file ``path``."""
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [s["name"] for s in json.loads(out).get("snapshots", [])]
