"""A hostile "registry": a loopback HTTP server whose every answer a test scripts.

Real sockets, real HTTP: the client code under test cannot tell it from a registry that
drips, lies, loops or points elsewhere. Only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Handler = http.server.BaseHTTPRequestHandler
Route = Callable[[Handler], None]


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Hostile:
    """The running server: ``routes`` maps a path (query excluded) to what answers it."""

    location: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.location}"


def send(handler: Handler, status: int, body: bytes = b"", **headers: str) -> None:
    """A complete response with a Content-Length."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def hostile_registry() -> Iterator[Hostile]:
    """Serve a :class:`Hostile` on a free loopback port until the block ends."""
    state = Hostile()

    class _Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            path = self.path.partition("?")[0]
            state.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
            route = state.routes.get(path)
            if route is None:
                send(self, 404, b'{"errors":[{"message":"not here"}]}')
            else:
                route(self)

        do_GET = do_HEAD = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests assert on ``seen``."""

        def handle(self) -> None:
            # The client giving up on a dripping answer, as it should, is no error here.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state.location = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
