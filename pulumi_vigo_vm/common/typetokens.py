"""The engine's type token of each resource of the package.

``pulumi.dynamic.Resource`` subclasses declared with ``module=MODULE, name=<class>`` get the
token ``pulumi-python:dynamic/<module>:<name>`` (``pulumi.dynamic.Resource.__init_subclass__``
and ``__init__``). The tokens name our resources in the state, in claims and in the policy
pack, so each is stated here once; ``tests/unit/test_typetokens.py`` holds the classes to
them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MODULE",
    "VIGO_BASE_IMAGE",
    "VIGO_DISK",
    "VIGO_SNAPSHOT",
    "VIGO_STATE_ID",
    "VIGO_VM",
    "type_token",
]

MODULE: Final = "vigo"
"""The ``module=`` every resource class of the package is declared with."""


def type_token(name: str) -> str:
    """The token of the resource class ``name`` declared with ``module=MODULE``."""
    return f"pulumi-python:dynamic/{MODULE}:{name}"


VIGO_VM: Final = type_token("VigoVm")
VIGO_DISK: Final = type_token("VigoDisk")
VIGO_BASE_IMAGE: Final = type_token("VigoBaseImage")
VIGO_SNAPSHOT: Final = type_token("VigoSnapshot")
VIGO_STATE_ID: Final = type_token("VigoStateId")
