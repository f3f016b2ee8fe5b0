"""The claim every resource of this package writes where it owns something: its URN.

A domain's marker (VigoVm) and a file's sidecar (VigoDisk, VigoBaseImage) name their
owner as ``<organization>/<URN>``. The provider process does not know the stack, so the
program computes the claim at declaration and passes it as the input ``claim``.
"""

from __future__ import annotations

import pulumi
from pulumi import Input

__all__ = ["claim_for", "claim_text", "claimed_type"]

_ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def claim_for(type_token: str, resource_name: str, parent: pulumi.Resource | None) -> Input[str]:
    """The claim of the resource of type ``type_token`` called ``resource_name`` under
    ``parent``: its URN as the engine will name it, prefixed by the organization."""
    organization = pulumi.get_organization()
    if parent is None:
        return claim_text(organization, type_token, resource_name, None)
    return parent.urn.apply(lambda urn: claim_text(organization, type_token, resource_name, urn))


def claim_text(
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
    """The type token of the resource that ``claim`` (as :func:`claim_text` builds it) names
    (``pulumi-python:dynamic/vigo:VigoDisk``: a child's own type, not its parents'), or None
    when ``claim`` names no URN."""
    _, found, urn = claim.partition("urn:pulumi:")
    parts = urn.split("::")
    if not found or len(parts) < 4:
        return None
    return parts[2].rpartition("$")[2] or None
