"""How much a download may bring, and for how long: the size cap and the overall deadline.

Why: the idle timeout ends a server that stops, not one that drips a byte a second, and a
digest is only known once every byte has been written, so without these a hostile or broken
mirror could hold ``pulumi up`` forever or fill the hypervisor's filesystem before the
check that would have refused the file. Neither is an input of the resource (the spec
names none): both are generous constants, and the deadline grows with the idle timeout
users already set (``vigo:downloadIdleTimeoutS``), which is the knob for a slow link.

- Size: at most :data:`MAX_BYTES` as published and again as decompressed. A declared
  ``Content-Length`` (or a ``file://`` source's size) beyond it is refused before anything
  is written; a body that goes beyond it is stopped there.
- Time: :data:`CONNECT_TIMEOUT_S` to connect, and the headers within that plus the idle
  timeout however slowly they drip; then the idle timeout, plus the declared size at
  :data:`MIN_RATE` (the slowest transfer accepted), and never more than :data:`CEILING_S`;
  a source of unknown size gets the ceiling. ``fetch_on="host"`` cannot know the size
  before curl starts, so it gets the ceiling too.

Pure: numbers in, decisions out (and a generator that stops a stream at the cap).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import ImageError

__all__ = ["CEILING_S", "CONNECT_TIMEOUT_S", "MAX_BYTES", "MIN_RATE", "Limits"]

MAX_BYTES = 256 << 30
"""256 GiB: beyond any published cloud image (a few GiB) and any raw disk one is likely to
be decompressed into; a larger body is a broken or hostile server."""
MIN_RATE = 128 << 10
"""128 KiB/s (1 Mbit/s): a 600 MiB image may take 80 minutes, a dripping server not."""
CONNECT_TIMEOUT_S = 30.0
"""The longest a TCP (and TLS) connection to a source may take."""
CEILING_S = 6 * 3600.0
"""The longest any download may take in all."""
_GIB = float(1 << 30)


@dataclass(frozen=True)
class Limits:
    """The limits of one download (tests shrink them; the provider uses the defaults)."""

    max_bytes: int = MAX_BYTES
    min_rate: float = MIN_RATE
    ceiling_s: float = CEILING_S
    connect_timeout_s: float = CONNECT_TIMEOUT_S

    def headers_deadline(self, idle_timeout: float) -> float:
        """Seconds the connection and the response's headers may take, however they drip."""
        return self.connect_timeout_s + idle_timeout

    def deadline(self, idle_timeout: float, length: int | None) -> float:
        """Seconds the whole transfer may take, given its declared ``length``."""
        if length is None:
            return self.ceiling_s
        return min(idle_timeout + length / self.min_rate, self.ceiling_s)

    def why_deadline(self) -> str:
        """How :meth:`deadline` was reached, for the error that names it."""
        return (
            f"the idle timeout (vigo:downloadIdleTimeoutS) plus the declared size at "
            f"{self.min_rate / 1024:g} KiB/s, the slowest rate accepted, and at most "
            f"{self.ceiling_s:g}s"
        )

    def refuse_declared(self, length: int | None, source: str) -> None:
        """Raise ImageError when a declared size is beyond the cap (nothing written yet)."""
        if length is not None and length > self.max_bytes:
            raise ImageError(
                f"source {source}: declares {length} bytes, more than the "
                f"{self.max_bytes} bytes ({self.max_bytes / _GIB:g} GiB) any image may have; "
                "nothing was written. Check the URL (is it the image?)"
            )

    def capped(self, chunks: Iterable[bytes], what: str, source: str) -> Iterator[bytes]:
        """``chunks``, stopped with ImageError before the total passes the cap."""
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > self.max_bytes:
                raise ImageError(
                    f"source {source}: {what} goes beyond {self.max_bytes} bytes "
                    f"({self.max_bytes / _GIB:g} GiB), more than any image may have; stopped "
                    "there and nothing was kept. Check the URL (is it the image?)"
                )
            yield chunk
