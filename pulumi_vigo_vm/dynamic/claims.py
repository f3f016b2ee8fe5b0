"""The claim every resource of this package writes where it owns something.

A domain's marker (VigoVm) and a file's sidecar (VigoDisk, VigoBaseImage) name their
owner as ``state:<state id>/<organization>/<URN>`` (see :mod:`pulumi_vigo_vm.common.claimtext`).
The provider process does not know the stack, so the program computes the claim at
declaration and passes it as the input ``claim``; it depends on the stack's VigoStateId,
which the engine therefore creates first.
"""

from __future__ import annotations

import pulumi
from pulumi import Output

from ..common.claimtext import compose
from ..stateid import state_id

__all__ = ["claim_for", "claimed_type", "owner_text"]

_ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def claim_for(type_token: str, resource_name: str, parent: pulumi.Resource | None) -> Output[str]:
    """The claim of the resource of type ``type_token`` called ``resource_name`` under
    ``parent``: this stack's state id, the organization and the URN the engine will give it."""
    organization = pulumi.get_organization()
    parent_urn: Output[str | None] = parent.urn if parent is not None else Output.from_input(None)
    return Output.all(state_id(), parent_urn).apply(
        lambda args: compose(args[0], owner_text(organization, type_token, resource_name, args[1]))
    )


def owner_text(
    organization: str, type_token: str, resource_name: str, parent_urn: str | None
) -> str:
    """``<organization>/<urn>``; a child's URN type is its parents' types joined by ``$``
    (as the engine's ``resource.NewURN`` builds it), except under the root stack."""
    stack, project = pulumi.get_stack(), pulumi.get_project()
    qualified = type_token
    if parent_urn is not None:
        parent_type = parent_urn.split("::")[2] if parent_urn.count("::") >= 3 else ""
        if parent_type and parent_type != _ROOT_STACK_TYPE:
            qualified = f"{parent_type}${type_token}"
    return f"{organization}/urn:pulumi:{stack}::{project}::{qualified}::{resource_name}"


def claimed_type(claim: str) -> str | None:
    """The type token of the resource that ``claim`` (as :func:`claim_for` builds it) names
    (``pulumi-python:dynamic/vigo:VigoDisk``: a child's own type, not its parents'), or None
    when ``claim`` names no URN."""
    _, found, urn = claim.partition("urn:pulumi:")
    parts = urn.split("::")
    if not found or len(parts) < 4:
        return None
    return parts[2].rpartition("$")[2] or None
