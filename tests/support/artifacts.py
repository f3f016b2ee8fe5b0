"""A Lab whose VMs' base disks are curator artifacts (pushed with ``vigo-curator``)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .disks import qemu_img
from .lab import Lab

PLATFORM = "linux-amd64"
VIGO_CURATOR = Path(sys.executable).with_name("vigo-curator")


@dataclass
class ArtifactLab(Lab):
    """A :class:`Lab` whose VMs are backed by artifacts of ``curator`` (a registry, or by
    default a layout directory in the world) in ``puddle``."""

    curator: str = ""
    puddle: str = ""

    def __post_init__(self) -> None:
        self.curator = self.curator or str(self.root / "curator")

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    def image(self, name: str, size: str = "64M") -> Path:
        """A small qcow2 with 512 random-pattern bytes at a random place in it.

        Every image is different, so tests never share a blob in the session registry
        (whose storage is content-addressed: corrupting a shared blob would leak).
        """
        path = self.root / "src" / name
        path.parent.mkdir(exist_ok=True)
        qemu_img("create", "-q", "-f", "qcow2", str(path), size)
        offset, pattern = secrets.randbelow(64 * 2048) * 512, 1 + secrets.randbelow(255)
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} {offset} 512", str(path)],
            check=True,
            capture_output=True,
        )
        return path

    def push(self, image: Path, ref: str, platform: str = "linux/amd64") -> str:
        """``vigo-curator push --kind generic`` of ``image`` for ``platform``; returns the new
        artifact id."""
        proc = subprocess.run(
            [
                str(VIGO_CURATOR),
                "push",
                "--kind",
                "generic",
                "--platform",
                platform,
                "--curator",
                self.curator,
                "--puddle",
                self.puddle,
                str(image),
                ref,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        ids = [line.split()[1] for line in lines if line.startswith("artifact_id")]
        assert len(ids) == 1, proc.stdout
        return ids[0]

    def materialised(self, artifact_id: str, name: str, version: str) -> Path:
        """Where the provider must put this artifact's linux-amd64 blob."""
        return self.artifacts_dir / artifact_id / name / version / PLATFORM

    def artifact_files(self) -> list[Path]:
        """Every regular file under the artifacts dir (blobs, sidecars, leftovers)."""
        if not self.artifacts_dir.exists():
            return []
        return sorted(p for p in self.artifacts_dir.rglob("*") if p.is_file())

    def vm(self, short: str, **args: Any) -> dict[str, Any]:
        """Declare VM ``short`` on an artifact (defaults: small, ``defined``)."""
        args.setdefault("state", "defined")
        return super().vm(short, disk_path=None, **args)

    def provider_config(self) -> dict[str, str]:
        return {
            **super().provider_config(),
            "vigo:curator": self.curator,
            "vigo:puddle": self.puddle,
            "vigo:artifactsDir": str(self.artifacts_dir),
        }
