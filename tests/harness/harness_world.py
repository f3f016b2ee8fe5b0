"""The World of a harness test: where its files, effect log and checkpoint live. A plain
module (not the conftest) so test modules can import it under a name no other suite uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness_programs import files_program

from pulumi_vigo_vm.testing import EngineHarness


@dataclass
class World:
    """Where a test's files, effect log and checkpoint live."""

    root: Path

    @property
    def dir(self) -> Path:
        return self.root / "files"

    @property
    def log_file(self) -> Path:
        return self.root / "effects.jsonl"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def config(self, items: list[dict[str, Any]], **extra: str) -> dict[str, str]:
        return {
            "test:files": json.dumps(items),
            "test:dir": str(self.dir),
            "test:log": str(self.log_file),
            **extra,
        }

    def harness(self, items: list[dict[str, Any]], **kwargs: Any) -> EngineHarness:
        """A harness running :func:`files_program` over ``items``."""
        config = self.config(items, **kwargs.pop("config", {}))
        return EngineHarness(files_program, state_file=self.state_file, config=config, **kwargs)

    def effects(self) -> list[dict[str, Any]]:
        """Every real effect the provider had, in order."""
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def ops(self) -> list[tuple[str, str]]:
        """(op, filename) of every effect, in order."""
        return [(e["op"], e["filename"]) for e in self.effects()]

    def files(self) -> dict[str, str]:
        """The files on disk and their contents."""
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.dir.iterdir())}

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return data
