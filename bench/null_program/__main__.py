"""The baseline stack of ``bench.protocol``: one do-nothing dynamic resource per entry of
``test:vms``, with the same inputs a VigoVm of that entry gets.

Its provider answers every RPC without touching anything, so a verb over this stack costs
exactly what the engine's side, the program, the ``python -m pulumi.dynamic`` process, gRPC
and the (de)serialisation of the same property bags cost. Subtracted from the same verb over
the VigoVm stack, what is left is the provider's own work."""

import json
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
)


class NullProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["vm_name"], props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Null(Resource):
    def __init__(self, name: str, args: dict[str, Any]) -> None:
        super().__init__(NullProvider(), name, args)


config = pulumi.Config("test")
for name, args in json.loads(config.require("vms")).items():
    Null(name, args)
