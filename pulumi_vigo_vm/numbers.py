"""The one grammar of whole numbers, shared by the provider's input check and the policy pack.

The engine carries every number as a double and programs may pass numeric strings, so a whole
number arrives as an int, an integral float (``4096.0``) or a string of decimal digits with an
optional sign and an optional all-zero fraction (``"4096"``, ``" +12 "``, ``"4096.0"``).
Booleans, exponents (``"4e3"``), NaN/infinity, fractions and anything else are refused. Both
the provider (``spec.py``) and the policy rules (``policies.py``) read numbers with
:func:`whole_number`, so a value one of them accepts the other never refuses as malformed.

Pure: no I/O, no state; every refusal is a ``ValueError`` whose text is the reason.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

__all__ = ["shown", "whole_number"]

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


def shown(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for quoting a bad input in a message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."
