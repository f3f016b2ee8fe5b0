"""Keep the pure-Python pickler as it was across a dynamic resource's construction.

Why: ``pulumi.dynamic.Resource.__init__`` serializes its provider with
``serialize_provider`` (``pulumi/dynamic/dynamic.py``, pulumi 3.272). To sort dictionaries
(so the ``__provider`` blob is deterministic) it sets ``pickle.Pickler = pickle._Pickler``
and replaces ``pickle._Pickler._batch_setitems`` with a sorting wrapper around *the current*
``_batch_setitems``, and ``save_dict`` with a copy that calls it; afterwards it restores
only the module's ``pickle.Pickler``. So each construction wraps the previous wrapper once
more: every later pickle walks one more stack frame per resource already declared, and
the 486th dynamic resource of a program raises ``RecursionError``. Upstream: pulumi/pulumi
issue #17803 (closed as "no repro"). Drop this module once ``serialize_provider`` restores
the class attributes it patches.

What: :func:`pristine_pickler` snapshots the class attributes of ``pickle._Pickler`` (and
the module's ``pickle.Pickler``) and puts them back after the block, so each construction
sorts with exactly one wrapper around the stock method: the same bytes as the first
construction of an unpatched program (no ``__provider`` churn against existing state), and
the pure-Python pickler of the rest of the process left as the standard library made it.
A lock makes the snapshot and restore of concurrent constructions nest correctly.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["pristine_pickler"]

_LOCK = threading.RLock()
_MISSING = object()


@contextmanager
def pristine_pickler() -> Iterator[None]:
    """Run the block (a dynamic resource's ``super().__init__``) and then restore the
    pure-Python pickler's class attributes and ``pickle.Pickler`` exactly as they were."""
    pickler_class: Any = pickle._Pickler  # private, see the module docstring
    with _LOCK:
        saved = dict(vars(pickler_class))
        module_pickler = pickle.Pickler
        try:
            yield
        finally:
            pickle.Pickler = module_pickler  # type: ignore[misc]
            _restore(pickler_class, saved)


def _restore(cls: Any, saved: dict[str, Any]) -> None:
    """Put back every class attribute of ``saved`` that changed or went, drop the ones
    added."""
    current = dict(vars(cls))
    for name in current.keys() - saved.keys():
        delattr(cls, name)
    for name, value in saved.items():
        if current.get(name, _MISSING) is not value:
            setattr(cls, name, value)
