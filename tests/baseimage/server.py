"""An HTTP server on 127.0.0.1 serving test images, with the faults a mirror can have, and
counting the requests it answers (the proof that a second ``up`` downloads nothing)."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Kind = Literal[
    "ok", "truncate", "drip", "trickle", "unsized", "slow-headers", "redirect", "missing"
]


@dataclass(frozen=True)
class Route:
    """What the server does for one path: ``ok`` (the body), ``truncate`` (announce the
    whole body, send half, hang up), ``drip`` (a few bytes, then silence for ``pause`` s),
    ``trickle`` (one byte every ``pause`` s: never idle, never done), ``slow-headers`` (a
    header line every ``pause`` s, never the body), ``unsized`` (the body with no
    Content-Length, ended by closing), ``redirect`` (302 to ``target``), ``missing`` (404).
    ``declared`` announces another Content-Length than the body's. ``midway``: called (in
    the server's thread) after the first half of an ``ok`` body is sent and before the rest,
    while the client waits: what happens "during the download" (a domain defined, a file put
    at the path) happens there, with no sleep to time it."""

    kind: Kind = "ok"
    body: bytes = b""
    target: str = ""
    pause: float = 0.0
    midway: Callable[[], object] | None = None
    declared: int | None = None


class ImageServer:
    """The server: ``serve(path, Route)``, ``url(path)``, ``hits[path]``; over TLS with
    ``tls``. As a proxy it sees absolute URLs as paths: serve those."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.scheme = "https" if tls is not None else "http"
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest shows failures, not every request."""

            def do_GET(self) -> None:
                server.hits[self.path] += 1
                # The client may give up (a full disk, a refusal): nothing to tell it then.
                with contextlib.suppress(ConnectionError):
                    self._answer()

            def _answer(self) -> None:
                route = server.routes.get(self.path, Route("missing"))
                if route.kind == "missing":
                    self.send_error(404)
                    return
                if route.kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", route.target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                if route.kind == "slow-headers":
                    for index in range(100000):
                        self.send_header(f"X-Slow-{index}", "y")
                        self.flush_headers()
                        time.sleep(route.pause)
                self.send_header("Content-Type", "application/octet-stream")
                if route.kind == "unsized":
                    self.close_connection = True
                else:
                    declared = len(route.body) if route.declared is None else route.declared
                    self.send_header("Content-Length", str(declared))
                self.end_headers()
                if route.kind == "truncate":
                    self.wfile.write(route.body[: len(route.body) // 2])
                    self.close_connection = True
                    return
                if route.kind == "trickle":
                    for index in range(len(route.body)):
                        self.wfile.write(route.body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(route.pause)
                    return
                if route.kind == "drip":
                    self.wfile.write(route.body[:16])
                    self.wfile.flush()
                    time.sleep(route.pause)
                    self.close_connection = True
                    return
                if route.midway is not None:
                    half = len(route.body) // 2
                    self.wfile.write(route.body[:half])
                    self.wfile.flush()
                    route.midway()
                    self.wfile.write(route.body[half:])
                    return
                self.wfile.write(route.body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)

    def serve(self, path: str, route: Route) -> str:
        """Answer ``path`` with ``route``; returns its URL."""
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}{path}"

    @contextmanager
    def running(self) -> Iterator[ImageServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
