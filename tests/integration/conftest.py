"""Fixtures for tests against a REAL libvirtd, driven through the engine harness.

Nothing here is mocked: domains are defined in the local libvirtd (``domain_type='qemu'``,
so no KVM is needed), overlays are made by qemu-img, files live in a per-test directory.
If libvirtd is not reachable the tests FAIL: CI must never pass by skipping them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt
import pytest

from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts
from pulumi_vigo_vm.testing import EngineHarness, RunResult
from pulumi_vigo_vm.testing.sshd import PrivateSshd, SshdUnavailableError, trusted_by_ssh_binary

PROGRAM = Path(__file__).resolve().parent / "program"
BRIDGE = "vigobr0"
LOCAL_URI = "qemu:///system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.libvirt)


@pytest.fixture(scope="session")
def libvirt_conn() -> libvirt.virConnect:
    try:
        return libvirt.open(LOCAL_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd is not reachable at {LOCAL_URI} ({exc}); start it (see .ci/run)")


@pytest.fixture(scope="session")
def bridge() -> str:
    """A host bridge for the VMs' NICs (created if missing: tests run as root)."""
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
    return BRIDGE


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def image_info(path: Path) -> dict[str, Any]:
    return json.loads(qemu_img("info", "-U", "--output=json", str(path)))  # type: ignore[no-any-return]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_marker(overlay: Path, pattern: int = 0xAB) -> None:
    """Write 64 KiB of ``pattern`` at offset 1 MiB into the VM's disk (guest not running)."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} 1M 64k", str(overlay)],
        check=True,
        capture_output=True,
    )


def has_marker(overlay: Path, pattern: int = 0xAB) -> bool:
    proc = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P {pattern:#x} 1M 64k", str(overlay)],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout


@dataclass
class Lab:
    """One test's world: a base image, an images dir, a stack of VMs, the harness."""

    root: Path
    uri: str
    bridge: str
    conn: libvirt.virConnect
    prefix: str
    vms: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    def base(self, name: str = "base.qcow2", size: str = "64M", fmt: str = "qcow2") -> Path:
        path = self.root / name
        if not path.exists():
            qemu_img("create", "-q", "-f", fmt, str(path), size)
        return path

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def vm(self, short: str, **args: Any) -> dict[str, Any]:
        """Declare (or redeclare) VM ``short`` with sensible small defaults."""
        declared = {
            "vm_name": self.name(short),
            "memory_mib": 64,
            "vcpu": 1,
            "disk_path": str(self.base()),
            "shutdown_timeout_s": 1,  # blank disks ignore ACPI: don't wait long
        }
        declared.update(args)
        self.vms[short] = {k: v for k, v in declared.items() if v is not None}
        return self.vms[short]

    def harness(self, **kwargs: Any) -> EngineHarness:
        config = {
            "test:vms": json.dumps(self.vms),
            "vigo:uri": self.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.images_dir),
        }
        return EngineHarness(PROGRAM, state_file=self.root / "state.json", config=config, **kwargs)

    def up(self) -> RunResult:
        return self.harness().up()

    def preview(self) -> RunResult:
        return self.harness().preview()

    def overlay(self, short: str) -> Path:
        return self.images_dir / f"{self.name(short)}.qcow2"

    def seeds(self, short: str) -> list[Path]:
        return sorted(self.images_dir.glob(f"{self.name(short)}-seed-*.iso"))

    def domain(self, short: str) -> libvirt.virDomain | None:
        try:
            return self.conn.lookupByName(self.name(short))
        except libvirt.libvirtError:
            return None

    def power(self, short: str) -> str:
        dom = self.domain(short)
        if dom is None:
            return "absent"
        return "running" if dom.isActive() else "stopped"

    def cleanup(self) -> None:
        for dom in self.conn.listAllDomains():
            if dom.name().startswith(self.prefix + "-"):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


@pytest.fixture(scope="session")
def ssh_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``qemu+ssh://root@127.0.0.1:<port>/system?...`` to a real private sshd.

    Both paramiko (files, qemu-img) and libvirt's own ssh transport go through it; the
    latter checks root's known_hosts, so the server's key is trusted there for the session.
    """
    try:
        server = PrivateSshd.start(tmp_path_factory.mktemp("sshd"))
    except SshdUnavailableError as exc:
        pytest.fail(f"cannot start the test sshd: {exc}", pytrace=False)
    with trusted_by_ssh_binary(server):
        yield server.uri
    close_all_ssh_hosts()
    server.stop()


@pytest.fixture(params=["local", "ssh"])
def uri(request: pytest.FixtureRequest) -> str:
    """Every lifecycle and drift test runs against qemu:///system and over qemu+ssh."""
    if request.param == "local":
        return LOCAL_URI
    return str(request.getfixturevalue("ssh_uri"))


@pytest.fixture
def lab(
    uri: str, bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A fresh world per test. Its directory is world-traversable (unlike pytest's tmp_path)
    because qemu runs as an unprivileged user that must reach the disk files."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]
    root = Path(tempfile.mkdtemp(prefix=f"vigo-{digest}-", dir="/var/tmp"))
    root.chmod(0o755)
    world = Lab(root, uri, bridge, libvirt_conn, prefix=f"it{digest}")
    world.cleanup()
    yield world
    world.cleanup()
    shutil.rmtree(root, ignore_errors=True)
