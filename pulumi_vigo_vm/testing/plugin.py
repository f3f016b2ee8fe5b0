"""Plumbing for a Pulumi plugin process started by a test: lifecycle, fake engine, pipes.

Why a module of its own: starting a plugin as the CLI does takes the same few pieces
whatever the plugin is: a ``with`` lifecycle over ``start``/``close``
(:class:`StartsAndCloses`), the engine's logging service for the plugin to dial
(:class:`FakeEngine`), the handshake in which the plugin prints its gRPC port on stdout
(:func:`read_port`) and a reader that keeps its pipe from filling (:func:`drain`). The
policy pack runner (:mod:`.policy`) and analyzer (:mod:`.policy_analyzer`) are built on them.
"""

from __future__ import annotations

import threading
from concurrent import futures
from types import TracebackType
from typing import IO, Self

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

__all__ = ["FakeEngine", "StartsAndCloses", "drain", "read_port"]


class StartsAndCloses:
    """A context manager over ``start()`` and ``close()``: ``with`` starts, leaving closes."""

    def start(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's logging service, which a plugin may dial; it keeps what it is told."""

    def __init__(self) -> None:
        self.logs: list[str] = []
        self._root = ""
        self._server: grpc.Server | None = None
        self.address = ""

    def Log(self, request: engine_pb2.LogRequest, context: object) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(
        self, request: engine_pb2.GetRootResourceRequest, context: object
    ) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(
        self, request: engine_pb2.SetRootResourceRequest, context: object
    ) -> engine_pb2.SetRootResourceResponse:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def start(self) -> str:
        """Serve on a free local port; return the address to hand to the plugin."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0)
            self._server = None


def read_port(stdout: IO[bytes], timeout: float) -> int | None:
    """Read the first stdout line (the port) within ``timeout``; None if it never comes."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        return None
    try:
        return int(result[0].strip())
    except ValueError:
        return None


def drain(stream: IO[bytes]) -> None:
    """Keep reading a pipe so the plugin never blocks on a full one."""
    for _ in iter(stream.readline, b""):
        pass
