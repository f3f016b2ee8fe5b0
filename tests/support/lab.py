"""The Lab: one test's world of VMs declared to ``tests/integration/program``, their files,
and the engine harness that deploys them, with what the suites inspect and assert about it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import libvirt

from pulumi_vigo_vm.testing import EngineHarness, RunResult
from pulumi_vigo_vm.vm.faults import ENV_VAR
from pulumi_vigo_vm.vm.filenames import CONSOLE_LOG_DIR

from .disks import qemu_img
from .world import LOCAL_URI, TESTS, lifetime, world_root

PROGRAM = TESTS / "integration" / "program"


@dataclass
class Lab:
    """One test's world: a base image, an images dir, a stack of VMs, the harness.

    ``env`` is the environment of every provider process (see :meth:`faulty`).
    """

    root: Path
    uri: str
    bridge: str
    conn: libvirt.virConnect
    prefix: str
    vms: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    disks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """VigoDisks of the stack (see :meth:`disk`)."""

    @classmethod
    def new(cls, kind: str, key: str, prefix: str = "{kind}{digest}", **fields: Any) -> Self:
        """A Lab in a fresh :func:`world_root` of ``kind`` for test ``key``, its domains
        named ``<prefix>-<short>`` (``prefix`` a template of ``kind`` and the key's
        ``digest``); ``fields`` are the other constructor arguments. A fixture uses it with
        ``yield from Lab.new(...).lifetime()``."""
        root, digest = world_root(kind, key)
        return cls(root=root, prefix=prefix.format(kind=kind, digest=digest), **fields)

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

    def disk(self, short: str, **args: Any) -> dict[str, Any]:
        """Declare (or redeclare) VigoDisk ``short`` (1 GiB unless told otherwise); a VM
        attaches it with ``data_disks=[{"disk": short}]`` (its ``path`` Output)."""
        self.disks[short] = {"name": self.name(short), "size_gib": 1, **args}
        return self.disks[short]

    def provider_config(self) -> dict[str, str]:
        """The ``vigo:*`` stack config every program in this lab runs with."""
        return {
            "vigo:uri": self.uri,
            "vigo:domainType": "qemu",  # no KVM needed
            "vigo:imagesDir": str(self.images_dir),
        }

    def engine(
        self, program: Path, config: dict[str, str], stack: str = "dev", **kwargs: Any
    ) -> EngineHarness:
        """The engine harness for ``program`` in this world; another ``stack`` has its own
        state file (and so its own claims). The provider processes get :attr:`env`."""
        state = self.root / ("state.json" if stack == "dev" else f"state-{stack}.json")
        kwargs.setdefault("env", dict(self.env))
        return EngineHarness(program, state_file=state, config=config, stack=stack, **kwargs)

    def harness(self, stack: str = "dev", **kwargs: Any) -> EngineHarness:
        """The engine harness for the declared VMs."""
        config = {
            "test:vms": json.dumps(self.vms),
            "test:disks": json.dumps(self.disks),
            **self.provider_config(),
        }
        return self.engine(PROGRAM, config, stack, **kwargs)

    def faulty(self, fault: str, **kwargs: Any) -> EngineHarness:
        """A harness whose provider process injects ``fault`` (``VIGO_FAULT_INJECT``)."""
        return self.harness(env={**self.env, ENV_VAR: fault}, **kwargs)

    def up(self) -> RunResult:
        return self.harness().up()

    def preview(self) -> RunResult:
        return self.harness().preview()

    def outputs(self, short: str) -> dict[str, Any]:
        """All recorded outputs of VM ``short``, secrets unwrapped (the program exports
        only a few)."""
        for res in self.harness().snapshot().ordered():
            if res.name == short:
                outputs: dict[str, Any] = res.plain_outputs()
                return outputs
        raise KeyError(short)

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

    def domains(self) -> set[str]:
        """Every domain of this test on the host (by prefix)."""
        return {
            dom.name()
            for dom in self.conn.listAllDomains()
            if dom.name().startswith(self.prefix + "-")
        }

    def files(self) -> set[str]:
        """Every name in images_dir (hidden temporaries included)."""
        if not self.images_dir.exists():
            return set()
        return {p.name for p in self.images_dir.iterdir() if p.name != "lost+found"}

    def leftovers(self) -> list[Path]:
        """Files in images_dir (overlays, seeds, temporaries)."""
        if not self.images_dir.exists():
            return []
        return sorted(self.images_dir.iterdir())

    def expected_files(self) -> set[str]:
        """The overlays and seeds the declared VMs should own, and nothing else."""
        names: set[str] = set()
        for short, args in self.vms.items():
            if args.get("state") == "absent":
                continue
            names.add(f"{self.name(short)}.qcow2")
            user_data = args.get("cloud_init_user_data")
            if user_data:
                digest = hashlib.sha256(user_data.encode()).hexdigest()[:8]
                names.add(f"{self.name(short)}-seed-{digest}.iso")
        return names

    def assert_converged(self) -> None:
        """A preview shows no change, and the host holds exactly what the stack declares."""
        result = self.harness().preview()
        live = [s.describe() for s in result.steps if s.op != "same"]
        assert not live, f"not converged: {live}"
        declared = {self.name(s) for s, a in self.vms.items() if a.get("state") != "absent"}
        assert self.domains() == declared, "orphan or missing domains"
        files, expected = self.files(), self.expected_files()
        assert files == expected, (
            f"orphan files {sorted(files - expected)}, missing files {sorted(expected - files)}"
        )

    def assert_clean(self) -> None:
        """Nothing of this test's VMs on the host: no domain, no file, no temporary."""
        assert self.domains() == set(), "orphan domains"
        assert self.files() == set(), "orphan files"

    def cleanup(self) -> None:
        for dom in self.live_conn().listAllDomains():
            if dom.name().startswith(self.prefix + "-"):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(
                    libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                    | libvirt.VIR_DOMAIN_UNDEFINE_TPM
                    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA  # a test's snapshots
                )
        # Logs a test's killed or failed runs left (a destroyed VM's own go with it).
        for log in Path(CONSOLE_LOG_DIR).glob(f"{self.prefix}-*.console.log"):
            log.unlink(missing_ok=True)

    def lifetime(self) -> Iterator[Self]:
        """This world for a fixture's whole use (see :func:`world.lifetime`)."""
        return lifetime(self)
