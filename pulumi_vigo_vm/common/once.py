"""An answer asked once per key in this process, however many threads want it at once.

A preview's diffs start together: without this, each of a fleet's VMs would probe the same
base image or fetch the same host capabilities before the first answer is kept. Here the
first thread asks; the others wait for its answer. A failed ask is not kept: the next
thread asks again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["OncePerKey"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OncePerKey(Generic[K, V]):
    """Answers by key, each asked by one thread while the others wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[K, V] = {}
        self._asking: dict[K, threading.Lock] = {}

    def get(self, key: K, ask: Callable[[], V]) -> V:
        """The answer kept for ``key``, else ``ask()``'s (kept when it returns)."""
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            answer = ask()
            with self._lock:
                self._answers[key] = answer
            return answer

    def clear(self) -> None:
        """Forget every answer (a benchmark's cold start)."""
        with self._lock:
            self._answers.clear()
