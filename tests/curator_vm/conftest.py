"""Fixtures: VMs in the local libvirtd whose base disk is a curator artifact.

The registry is the curator tests' session ``docker-registry`` and the libvirt helpers are
the integration tests' (both imported, not copied). Each test gets a fresh puddle, a
world-traversable directory under /var/tmp (qemu runs as an unprivileged user and must
reach the materialised base), its own ``vigo:artifactsDir`` there, and domain names
starting with ``cur-`` (other suites share this libvirtd).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
import pytest
from curator.conftest import Registry, free_port, registry
from integration.conftest import bridge, libvirt_conn, ssh_uri, sshd
from integration.vmlab import LOCAL_URI, PROGRAM, Lab, image_info, qemu_img, world_root

from pulumi_vigo_vm.testing import EngineHarness

__all__ = [
    "ArtifactLab",
    "Registry",
    "bridge",
    "free_port",
    "image_info",
    "libvirt_conn",
    "qemu_img",
    "registry",
    "ssh_uri",
    "sshd",
]

PLATFORM = "linux-amd64"
VIGO_CURATOR = Path(sys.executable).with_name("vigo-curator")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "curator_vm" in item.path.parts:
            item.add_marker(pytest.mark.libvirt)


@dataclass
class ArtifactLab(Lab):
    """A :class:`Lab` whose VMs are backed by artifacts of ``curator`` in ``puddle``."""

    curator: str = ""
    puddle: str = ""

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

    def push(self, image: Path, ref: str) -> str:
        """``vigo-curator push --kind generic``; returns the new artifact id."""
        proc = subprocess.run(
            [
                str(VIGO_CURATOR),
                "push",
                "--kind",
                "generic",
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
        """The ``vigo:*`` stack config every program in this lab runs with."""
        return {
            "vigo:uri": self.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.images_dir),
            "vigo:curator": self.curator,
            "vigo:puddle": self.puddle,
            "vigo:artifactsDir": str(self.artifacts_dir),
        }

    def harness(self, **kwargs: Any) -> EngineHarness:
        config = {"test:vms": json.dumps(self.vms), **self.provider_config()}
        return EngineHarness(PROGRAM, state_file=self.root / "state.json", config=config, **kwargs)

    def outputs(self, short: str) -> dict[str, Any]:
        """All recorded outputs of VM ``short`` (the program exports only a few)."""
        for res in self.harness().snapshot().ordered():
            if res.name == short:
                return res.plain_outputs()
        raise KeyError(short)

    def leftovers(self) -> list[Path]:
        """Files in images_dir (overlays, seeds, temporaries)."""
        if not self.images_dir.exists():
            return []
        return sorted(self.images_dir.iterdir())


def _new_lab(
    request: pytest.FixtureRequest,
    conn: libvirt.virConnect,
    bridge_name: str,
    curator: str,
    uri: str = "qemu:///system",
) -> ArtifactLab:
    root, digest = world_root("cur", request.node.nodeid)
    return ArtifactLab(
        root,
        uri,
        bridge_name,
        conn,
        prefix=f"cur-{digest}",
        curator=curator or str(root / "curator"),
        puddle="p" + uuid.uuid4().hex[:10],
    )


@pytest.fixture(params=["registry", "layout", "registry-over-ssh"])
def alab(
    request: pytest.FixtureRequest, libvirt_conn: libvirt.virConnect, bridge: str
) -> Iterator[ArtifactLab]:
    """One test's world: a real registry, a layout directory, and the registry with the
    hypervisor reached over qemu+ssh (the artifact is materialised through SFTP)."""
    registry = request.param.startswith("registry")
    curator = request.getfixturevalue("registry").location if registry else ""
    uri = request.getfixturevalue("ssh_uri") if request.param.endswith("ssh") else LOCAL_URI
    yield from _new_lab(request, libvirt_conn, bridge, curator, uri).lifetime()


@pytest.fixture
def rlab(
    request: pytest.FixtureRequest,
    libvirt_conn: libvirt.virConnect,
    bridge: str,
    registry: Registry,
) -> Iterator[ArtifactLab]:
    """One test's world against the real registry only."""
    yield from _new_lab(request, libvirt_conn, bridge, registry.location).lifetime()
