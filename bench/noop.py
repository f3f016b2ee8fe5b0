"""A do-nothing dynamic resource and a program declaring ``test:count`` of them.

For :mod:`bench.checkpoints`: a stack whose provider does no work (``create`` returns its
inputs, ``diff`` compares them), so what a run costs is the engine's side alone: the
program's registrations, the gRPC round trips and the checkpoint. Each resource carries
``test:payload`` bytes of input (recorded twice in the checkpoint, as inputs and outputs)
so its entry can be sized like a VigoVm's.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn


class NoopProvider(dyn.ResourceProvider):
    """Records its inputs as outputs; nothing outside the checkpoint changes."""

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(f"noop-{props['index']:.0f}", dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changed = any(olds.get(k) != v for k, v in news.items() if k != "__provider")
        return dyn.DiffResult(changes=changed)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        return None


class Noop(dyn.Resource, module="bench", name="Noop"):
    """A resource of :class:`NoopProvider`."""

    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(NoopProvider(), name, props)


def noop_program() -> None:
    """Declare ``test:count`` :class:`Noop` resources of ``test:payload`` bytes each."""
    config = pulumi.Config("test")
    payload = "x" * int(config.require("payload"))
    for index in range(int(config.require("count"))):
        Noop(f"noop{index:04d}", {"index": index, "payload": payload})
