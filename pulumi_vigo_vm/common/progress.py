"""Progress lines for long transfers (a download, a VM's move), rate-limited, each naming
the resource.

A dynamic provider has no channel of its own to the engine: the SDK's provider server
(``pulumi/dynamic/__main__.py``) configures no engine address, so ``pulumi.log`` writes
``info: <message>`` to the provider's stderr, which the engine shows among the run's
messages, attributed to no resource. Hence the prefix (``VigoBaseImage ubuntu-base:``),
and a line only every :data:`INTERVAL_S` seconds: a 600 MiB image at 50 MiB/s would
otherwise print thousands.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["INTERVAL_S", "Progress"]

INTERVAL_S = 10.0
_MIB = float(1 << 20)


class Progress:
    """Counts bytes of one transfer and says how far it is, at most once per interval."""

    def __init__(
        self,
        label: str,
        total: int | None,
        emit: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL_S,
    ) -> None:
        self._label, self._total, self._emit = label, total, emit
        self._clock, self._interval = clock, interval
        self._started = self._last = clock()
        self.done = 0

    def advance(self, count: int) -> None:
        """``count`` more bytes arrived; a line when the interval has passed since the last."""
        self.done += count
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._emit(self.line(now))

    def reach(self, done: int, total: int | None = None) -> None:
        """``done`` bytes in all so far, of ``total`` when told (a job that reports totals,
        not increments, and whose total grows: a live migration's dirtied memory)."""
        if total:
            self._total = total
        self.advance(done - self.done)

    def line(self, now: float) -> str:
        """``<label>: 120.0 MiB of 600.0 MiB (20%), 12.0 MiB/s``."""
        rate = self.done / _MIB / max(now - self._started, 1e-9)
        text = f"{self._label}: {self.done / _MIB:.1f} MiB"
        if self._total:
            text += f" of {self._total / _MIB:.1f} MiB ({100 * self.done // self._total}%)"
        return f"{text}, {rate:.1f} MiB/s"
