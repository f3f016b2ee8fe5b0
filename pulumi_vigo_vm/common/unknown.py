"""Is an input known yet? During ``pulumi preview`` the engine hands a provider an
:class:`pulumi.output.Unknown` for every value computed from another resource's outputs.

Told by the class's name, so the pure modules that ask need not import the SDK's runtime;
``tests/unit/test_unknown.py`` holds this to the SDK's own class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["contains_unknown", "is_unknown"]


def is_unknown(value: Any) -> bool:
    """``value`` is the engine's placeholder for a value not known yet."""
    return type(value).__name__ == "Unknown"


def contains_unknown(value: Any) -> bool:
    """``value`` is unknown, or holds an unknown anywhere inside (a VigoDisk's path in
    ``data_disks`` during preview): the whole input is then not known yet."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False
