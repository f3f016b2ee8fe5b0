"""Running calls under a time bound that holds even when a call never returns.

A thread cannot be stopped, and a regex that backtracks holds the GIL, so a time-bound test
runs its calls in a forked child and kills it at the bound: a regression fails in seconds
instead of hanging the suite for hours. The child inherits the calls by ``fork`` (nothing
is pickled but indices and times), so one child runs many calls on large inputs cheaply.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection

__all__ = ["first_over"]


def _serve(calls: Sequence[Callable[[], object]], pipe: Connection) -> None:
    while (index := pipe.recv()) is not None:
        started = time.perf_counter()
        calls[index]()
        pipe.send(time.perf_counter() - started)


def first_over(bound_s: float, calls: Sequence[Callable[[], object]]) -> int | None:
    """The index of the first of ``calls`` that took longer than ``bound_s`` (its child is
    killed then), or None when every one returned within it. Calls run one by one."""
    context = multiprocessing.get_context("fork")
    parent, child_end = context.Pipe()
    child = context.Process(target=_serve, args=(calls, child_end), daemon=True)
    child.start()
    try:
        for index in range(len(calls)):
            parent.send(index)
            if not parent.poll(bound_s):
                return index
            parent.recv()
        parent.send(None)
        return None
    finally:
        child.join(1)
        if child.is_alive():
            child.kill()
            child.join()
