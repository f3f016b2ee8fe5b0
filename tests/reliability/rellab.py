"""What the reliability suite shares: a Lab with fault injection and orphan accounting, a
raw capture of provider output, and a Check-only client of a real provider process. Plain
module (not a conftest) so the test modules can import it without clashing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from integration.vmlab import (
    BRIDGE,
    LOCAL_URI,
    PROGRAM,
    Lab,
    has_marker,
    image_info,
    qemu_img,
    sha256,
    write_marker,
)
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.testing import CheckFailure, EngineHarness
from pulumi_vigo_vm.testing import props as harness_props
from pulumi_vigo_vm.testing.faults import ENV_VAR
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

__all__ = [
    "BRIDGE",
    "ENV_VAR",
    "LOCAL_URI",
    "PROGRAM",
    "VM_TYPE",
    "CheckRpc",
    "ProviderLog",
    "RelLab",
    "has_marker",
    "image_info",
    "qemu_img",
    "sha256",
    "write_marker",
]

VM_TYPE = "pulumi-python:dynamic/vigo:VigoVm"


@dataclass
class RelLab(Lab):
    """A :class:`Lab` with fault injection and orphan accounting."""

    env: dict[str, str] = field(default_factory=dict)

    def harness(self, **kwargs: Any) -> EngineHarness:
        kwargs.setdefault("env", dict(self.env))
        return super().harness(**kwargs)

    def faulty(self, fault: str, **kwargs: Any) -> EngineHarness:
        """A harness whose provider process injects ``fault`` (``VIGO_FAULT_INJECT``)."""
        return self.harness(env={**self.env, ENV_VAR: fault}, **kwargs)

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
        assert self.files() == self.expected_files(), "orphan or missing files"

    def assert_clean(self) -> None:
        """Nothing of this test's VMs on the host: no domain, no file, no temporary."""
        assert self.domains() == set(), "orphan domains"
        assert self.files() == set(), "orphan files"


class ProviderLog:
    """Everything the provider processes printed (stdout after the port, and stderr), RAW.

    The harness keeps the last lines of each provider and shows them redacted; to prove
    that no secret is ever printed, the unredacted lines are kept here when a provider closes.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class CheckRpc:
    """One real ``python -m pulumi.dynamic`` process; ``check`` is its gRPC ``Check``."""

    def __init__(self, host: DynamicProviderHost) -> None:
        self.host = host
        self.provider = serialize_provider(VmProvider())

    def check(self, news: dict[str, Any]) -> tuple[dict[str, Any], list[CheckFailure]]:
        bag = {**news, harness_props.PROVIDER_KEY: self.provider}
        urn = f"urn:pulumi:dev::rel::{VM_TYPE}::vm"
        return self.host.check(urn, {}, bag)

    def alive(self) -> bool:
        proc = self.host._proc
        return proc is not None and proc.poll() is None
