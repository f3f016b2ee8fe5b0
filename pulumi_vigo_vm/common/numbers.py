"""The one grammar of whole numbers, shared by the provider's input check and the policy pack.

The engine carries every number as a double and programs may pass numeric strings, so a whole
number arrives as an int, an integral float (``4096.0``) or a string of decimal digits with an
optional sign and an optional all-zero fraction (``"4096"``, ``" +12 "``, ``"4096.0"``).
Booleans, exponents (``"4e3"``), NaN/infinity, fractions and anything else are refused. Both
the provider (``spec.py``) and the policy rules (``policies.py``) read numbers with
:func:`whole_number`, so a value one of them accepts the other never refuses as malformed.

:func:`as_written` and :func:`as_wire` move free-form JSON between the wire's doubles and
what the user wrote. Pure: no I/O, no state; every refusal is a ``ValueError`` whose text
is the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["as_wire", "as_written", "shown", "whole_number"]

_WHOLE_NUMBER_TEXT: Final = re.compile(r"\s*[+-]?\d+(\.0*)?\s*")

_SHOWN_MAX: Final = 40


def whole_number(value: Any, low: int, high: float, unit: str = "") -> int:
    """``value`` as an int in ``[low, high]``, or ``ValueError`` saying why it is not one.

    Accepts ints, integral floats (the engine's numbers) and numeric strings. ``unit`` (with
    its leading space, e.g. ``" MiB"``) is named in the messages; ``high`` may be
    ``math.inf`` for no upper bound.
    """
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {value!r}")
    number: float | int
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str) and _WHOLE_NUMBER_TEXT.fullmatch(value):
        number = float(value) if "." in value else int(value)
    else:
        raise ValueError(f"must be a whole number{unit}, got {shown(value)}")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(f"must be a whole number{unit}, got {shown(value)}")
        number = int(number)
    if number < low:
        raise ValueError(f"must be at least {low}{unit}, got {number}")
    if number > high:
        raise ValueError(f"must be at most {high}{unit}, got {number}")
    return number


def as_written(value: Any) -> Any:
    """A JSON value as the user wrote it: every integral float becomes an int, at any depth.

    The wire (a protobuf ``Struct``) has only doubles, so ``8080`` reaches the provider as
    ``8080.0``; a free-form JSON input that goes on to a guest (``cloud_init_meta_data``) is
    restored here, once, by its validator. No program can tell ``8080.0`` from ``8080`` over
    the wire, so both are written ``8080``. Booleans stay booleans; ``-0.0`` stays a float
    (as an int it would lose its sign, and the seed hash with it).
    """
    return _each_leaf(value, _integral_as_int)


def _integral_as_int(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value) if value or math.copysign(1.0, value) > 0 else value  # -0.0 stays
    return value


def as_wire(value: Any) -> Any:
    """``value`` as the wire carries it: every int (not bool) a float, at any depth. What a
    digest of user JSON is computed over, so it is the same before and after
    :func:`as_written` (the previous release hashed the wire's floats)."""
    return _each_leaf(value, _int_as_float)


def _int_as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _each_leaf(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` with ``leaf`` applied to everything that is no mapping nor list, at any
    depth (JSON's shape: mappings become dicts)."""
    if isinstance(value, Mapping):
        return {key: _each_leaf(item, leaf) for key, item in value.items()}
    if isinstance(value, list):
        return [_each_leaf(item, leaf) for item in value]
    return leaf(value)


def shown(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for quoting a bad input in a message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."
