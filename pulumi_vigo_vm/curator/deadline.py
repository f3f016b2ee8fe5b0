"""An overall deadline per registry request, and the requests adapter that enforces it.

Why a module of its own: a socket timeout bounds each read, not their sum, so a registry
that drips a byte a second never trips it, and ``pulumi preview`` would hang on it. The
only way to end a read blocked inside requests/urllib3 is to shut its socket down from
another thread. That takes a watchdog thread (:class:`Watch`), urllib3 connection and pool
classes that show every socket they use to the watch armed on the calling thread, and a
requests adapter (:class:`WatchedAdapter`) that mounts those pools and puts connect/idle
timeouts on every request. None of it knows about registries; :mod:`.http` arms a watch
around each request it makes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import requests.adapters
import urllib3
import urllib3.connection

__all__ = ["Watch", "WatchedAdapter"]

_RECUT = 0.25  # seconds between cuts of a request whose deadline has passed


class Watch:
    """An overall deadline for one request, however steadily its server drips bytes.

    A socket timeout bounds each read, not their sum: a registry sending a byte a second
    never trips it. While a watch is armed on a thread, every socket that thread's requests
    use is recorded (a pooled one when urllib3 hands its connection out, a new one when it
    connects; see :class:`_WatchedHTTPPool`). Once the deadline passes they are shut down,
    and again every :data:`_RECUT` seconds until the watch is disarmed (a socket connected
    after expiry is cut too), which ends a blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._armed_at = 0.0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="curator-deadline", daemon=True)

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)

    def allow(self, seconds: float) -> None:
        """Move the deadline to ``seconds`` from now: for a transfer whose allowance is known
        only once its headers have arrived. No effect once expired."""
        if not self.expired:
            self.seconds = time.monotonic() - self._armed_at + seconds

    def _run(self) -> None:
        # Re-read every _RECUT seconds, so that a moved deadline holds.
        while (remaining := self._armed_at + self.seconds - time.monotonic()) > 0:
            if self._done.wait(min(remaining, _RECUT)):
                return
        self.expired = True
        while True:
            with self._lock:
                for sock in self._sockets:
                    with contextlib.suppress(OSError):
                        # socket.socket's own shutdown: an SSLSocket's would also drop its
                        # TLS state under the reading thread's feet.
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if self._done.wait(_RECUT):
                return

    @contextlib.contextmanager
    def armed(self) -> Iterator[Watch]:
        """Watch the requests this thread makes inside the block."""
        _current.watch = self
        self._armed_at = time.monotonic()
        self._thread.start()
        try:
            yield self
        finally:
            _current.watch = None
            self._done.set()


_current = threading.local()


def _watch_socket(sock: socket.socket | None) -> None:
    watch: Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """Shows each socket it connects to the thread's :class:`Watch`."""

    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """The HTTPS twin of :class:`_WatchedHTTPConnection`."""

    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    """A pool whose connections are watched, the pooled ones as they are handed out."""

    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _watch_socket(getattr(conn, "sock", None))
        return conn


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    """The HTTPS twin of :class:`_WatchedHTTPPool`."""

    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _watch_socket(getattr(conn, "sock", None))
        return conn


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """Every request gets connect and idle timeouts (oras's session sets none, and a hung
    registry must fail), and its connections are watched for the overall deadline.

    ``connect_timeout`` bounds a TCP (and TLS) connection, ``idle_timeout`` the wait for
    any next byte, blob transfers included.
    """

    def __init__(self, *, connect_timeout: float, idle_timeout: float) -> None:
        super().__init__()
        self._timeouts = (connect_timeout, idle_timeout)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeouts if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
