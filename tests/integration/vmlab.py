"""What integration tests share: a Lab (one test's VMs, files and harness) and helpers that
inspect disks with qemu-img and qemu-io. Plain module (not a conftest) so that other suites
can import it without clashing with their own conftest modules."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import libvirt

from pulumi_vigo_vm.testing import EngineHarness, RunResult

PROGRAM = Path(__file__).resolve().parent / "program"
BRIDGE = "vigobr0"
LOCAL_URI = "qemu:///system"


def world_root(kind: str, key: str) -> tuple[Path, str]:
    """A fresh directory for one test's world, and a short digest of ``key`` (a test id)
    to name its domains by. Under /var/tmp and world-traversable (unlike pytest's tmp_path)
    because qemu runs as an unprivileged user that must reach the disk files."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    root = Path(tempfile.mkdtemp(prefix=f"vigo-{kind}-{digest}-", dir="/var/tmp"))
    root.chmod(0o755)
    return root, digest


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

    def harness(self, stack: str = "dev", **kwargs: Any) -> EngineHarness:
        """The engine harness for this world's program; another ``stack`` has its own state
        file (and so its own claims)."""
        state = self.root / ("state.json" if stack == "dev" else f"state-{stack}.json")
        config = {
            "test:vms": json.dumps(self.vms),
            "vigo:uri": self.uri,
            "vigo:domainType": "qemu",
            "vigo:imagesDir": str(self.images_dir),
        }
        return EngineHarness(PROGRAM, state_file=state, config=config, stack=stack, **kwargs)

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
            return self.live_conn().lookupByName(self.name(short))
        except libvirt.libvirtError:
            return None

    def power(self, short: str) -> str:
        dom = self.domain(short)
        if dom is None:
            return "absent"
        return "running" if dom.isActive() else "stopped"

    def live_conn(self) -> libvirt.virConnect:
        """The local libvirt connection, reopened if libvirtd restarted since it was made."""
        try:
            self.conn.getLibVersion()  # a round trip: isAlive() misses a dead socket
            return self.conn
        except libvirt.libvirtError:
            self.conn = libvirt.open(LOCAL_URI)
            return self.conn

    def cleanup(self) -> None:
        for dom in self.live_conn().listAllDomains():
            if dom.name().startswith(self.prefix + "-"):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)

    def lifetime(self) -> Iterator[Self]:
        """A fixture's whole use of this world (``yield from lab.lifetime()``): leftovers of
        an earlier run of the same test removed first; domains and files removed after
        (root removes the read-only materialised bases too)."""
        self.cleanup()
        try:
            yield self
        finally:
            self.cleanup()
            shutil.rmtree(self.root, ignore_errors=True)
