"""What the reliability suite adds to :mod:`support`: a raw capture of provider output,
and a Check-only client of a real provider process. (Its Lab, with fault injection and
orphan accounting, is :class:`support.lab.Lab`.) Plain module (not a conftest) so the test
modules can import it without clashing."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.testing import CheckFailure
from pulumi_vigo_vm.testing import props as harness_props
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

VM_TYPE = "pulumi-python:dynamic/vigo:VigoVm"


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
