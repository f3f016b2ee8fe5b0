"""URN arithmetic, as the engine's ``resource.URN`` helpers (sdk/go/common/resource/urn.go).

Pure string functions: building a registration's URN, and reading a URN's name and types. The
harness's step generator and alias resolution use them; nothing here touches state or RPCs.
"""

from __future__ import annotations

from ._protocol import STACK_TYPE

__all__ = [
    "create_urn",
    "new_urn",
    "registration_urn",
    "urn_name",
    "urn_qualified_type",
    "urn_type",
]


def registration_urn(stack: str, project: str, typ: str, parent: str, name: str) -> str:
    """The engine's URN for a registration: the parent's type is prefixed unless the parent is
    the root stack."""
    qualified = typ
    if parent and urn_type(parent) != STACK_TYPE:
        qualified = f"{parent.split('::')[2]}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def create_urn(name: str, typ: str, parent: str, project: str, stack: str) -> str:
    """``resource.CreateURN``: under a parent, the parent URN's prefix (its stack, project and
    qualified type) and ``$``; else ``urn:pulumi:<stack>::<project>::``."""
    prefix = parent[: parent.rindex("::")] + "$" if parent else f"urn:pulumi:{stack}::{project}::"
    return f"{prefix}{typ}::{name}"


def new_urn(stack: str, project: str, parent_type: str, base_type: str, name: str) -> str:
    """``urn.New``: the parent's qualified type prefixes the type unless it is the stack's."""
    typ = base_type
    if parent_type and parent_type != STACK_TYPE:
        typ = f"{parent_type}${base_type}"
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def urn_name(urn: str) -> str:
    """``URN.Name``: everything after the third ``::`` (a name may itself contain ``::``)."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else ""


def urn_qualified_type(urn: str) -> str:
    """``URN.QualifiedType``: the type with its parents' types, ``$``-separated."""
    parts = urn.split("::", 3)
    return parts[2] if len(parts) == 4 else ""


def urn_type(urn: str) -> str:
    """``URN.Type``: the last ``$``-separated segment of the qualified type."""
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""
