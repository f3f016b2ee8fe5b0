"""VigoStateId: one random value per stack, kept in the stack's own state, carried by every
claim (see :mod:`pulumi_vigo_vm.common.claimtext`).

Why a resource: the program knows its organization, project and stack names, never which
backend holds its state, and two local backends both say ``organization/<project>/<stack>``.
Only the state itself tells them apart, and the only thing a program reads back from its
state is a resource's outputs. The engine checkpoints a create when it ends, and a VigoVm,
VigoDisk or VigoBaseImage waits for this output before its own create starts; so a create
of theirs that crashes halfway (the engine keeps only a pending operation, whose inputs
never reach the provider again) is retried with the very same claim and recognised.

Declared once per program, implicitly, by the first resource of this package that needs a
claim (``vigo-state-id`` under the stack). Pickled into state by reference
(``pulumi_vigo_vm.stateid.StateIdProvider``): that path is a contract.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import Any

import pulumi
from pulumi import Output
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from .common.typetokens import MODULE
from .common.typetokens import VIGO_STATE_ID as TYPE_TOKEN
from .dynamic.pickling import pristine_pickler

__all__ = ["RESOURCE_NAME", "TYPE_TOKEN", "StateIdProvider", "VigoStateId", "state_id"]

RESOURCE_NAME = "vigo-state-id"


class StateIdProvider(ResourceProvider):
    """Makes the value once; never changes it, never touches a host."""

    serialize_as_secret_always = False
    """Holds nothing: the pickle is the class by reference."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        value = uuid.uuid4().hex
        return CreateResult(value, {"state_id": value})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        """No input can change it: a new value would disown everything the stack claims."""
        return DiffResult(changes=False, replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove: the value lives in state only."""


class VigoStateId(Resource, module=MODULE, name="VigoStateId"):
    """The stack's state id. Declared by the package itself (see :func:`state_id`)."""

    state_id: Output[str]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        with pristine_pickler():  # pulumi#17803: see _pickling
            super().__init__(StateIdProvider(), resource_name, {"state_id": None}, opts)


_LOCK = threading.Lock()
_BY_ROOT: weakref.WeakKeyDictionary[Any, VigoStateId] = weakref.WeakKeyDictionary()


class _NoRoot:
    """The key of a program run without a root stack (unit tests under mocks)."""


_NO_ROOT = _NoRoot()


def state_id() -> Output[str]:
    """This stack's state id, declaring its resource on first use in this program run (one
    per root stack: an Automation API process runs several programs, each its own stack)."""
    root = pulumi.runtime.get_root_resource() or _NO_ROOT
    with _LOCK:
        resource = _BY_ROOT.get(root)
        if resource is None:
            resource = VigoStateId(RESOURCE_NAME)
            _BY_ROOT[root] = resource
    return resource.state_id
