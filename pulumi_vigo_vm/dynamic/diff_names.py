"""Tell the engine which inputs a ``Diff`` found changed, which ``pulumi.dynamic`` cannot.

The engine shows an update as ``~ update [diff: memory_mib]`` from ``DiffResponse.diffs``;
with none there it names only the inputs whose *values* differ, so a VM whose live
definition drifted (same inputs, another host) previews as ``~ update`` naming nothing.
A dynamic provider's ``DiffResult`` has no such field: the SDK's server
(``DynamicResourceProviderServicer.Diff`` in ``pulumi/dynamic/__main__.py``, pulumi 3.272)
builds the response from ``changes``, ``replaces`` and ``delete_before_replace`` alone,
calling ``proto.DiffResponse(**fields)`` through its module's global ``proto``.

What a provider can do, as :mod:`._parallel` does for the server's thread pool: the server
runs as ``__main__`` (``python -m pulumi.dynamic``) and answers each RPC on one thread.
:func:`named_diff` keeps the names for the calling thread; the first call swaps, in that
module only, ``proto`` for a view of the same SDK module whose ``DiffResponse`` adds the
names kept for its thread (and forgets them). When the server is not what we expect
(another SDK, an in-process call), nothing is swapped: the diff is still reported, with
its names on the returned :class:`NamedDiffResult` only (never a wrong answer).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from pulumi.dynamic import DiffResult

__all__ = ["NamedDiffResult", "named_diff"]

_kept = threading.local()
_install_lock = threading.Lock()


class NamedDiffResult(DiffResult):
    """A ``DiffResult`` that also names the changed inputs (``diffs``)."""

    def __init__(
        self,
        changes: bool,
        replaces: Sequence[str],
        diffs: Sequence[str],
        delete_before_replace: bool,
    ) -> None:
        super().__init__(
            changes=changes, replaces=list(replaces), delete_before_replace=delete_before_replace
        )
        self.diffs = list(diffs)


class _NamingResponse:
    """The ``DiffResponse`` message class (its constants too), built with the kept names."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __call__(self, **fields: Any) -> Any:
        names = getattr(_kept, "names", None)
        _kept.names = None
        if names and "diffs" not in fields:
            fields["diffs"] = names
        return self._real(**fields)


class _NamingProto:
    """The SDK's ``proto`` module, whose ``DiffResponse`` carries the kept names."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real
        self.DiffResponse = _NamingResponse(real.DiffResponse)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _server_module() -> ModuleType | None:
    """``pulumi.dynamic``'s server module when this process is one, else None."""
    main = sys.modules.get("__main__")
    proto = getattr(main, "proto", None)
    if main is None or not hasattr(main, "DynamicResourceProviderServicer"):
        return None
    if isinstance(proto, _NamingProto):
        return main
    response = getattr(proto, "DiffResponse", None)
    descriptor = getattr(response, "DESCRIPTOR", None)
    if not isinstance(proto, ModuleType) or "diffs" not in getattr(
        descriptor, "fields_by_name", {}
    ):
        return None
    return main


def _install() -> bool:
    """Swap the server's ``proto`` once; whether names now reach the engine."""
    with _install_lock:
        main = _server_module()
        if main is None:
            return False
        proto = vars(main)["proto"]
        if not isinstance(proto, _NamingProto):
            setattr(main, "proto", _NamingProto(proto))  # noqa: B010 (a module's global)
        return True


def named_diff(
    changes: bool,
    replaces: Sequence[str] = (),
    diffs: Sequence[str] = (),
    *,
    delete_before_replace: bool = False,
) -> NamedDiffResult:
    """The answer to ``Diff``; ``diffs`` (with ``replaces``: every input that changed or
    drifted) is what the engine shows. A change may name nothing (a drift of what the
    package alone decides, such as the console log's path)."""
    names = list(dict.fromkeys([*replaces, *diffs])) if changes else []
    if names and _install():
        _kept.names = names
    return NamedDiffResult(changes, replaces, names, delete_before_replace)
