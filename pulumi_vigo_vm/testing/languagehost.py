"""The child process that runs a Pulumi program for the harness (the "language host").

``pulumi.runtime.set_mocks`` configures process-wide SDK state (settings, root stack, config),
so every program execution gets its own interpreter: ``python -m
pulumi_vigo_vm.testing.languagehost SPEC.json``. The program runs under ``set_mocks`` with a
monitor whose resource registrations are forwarded over gRPC to the harness's ResourceMonitor
server in the parent, which plays the engine. Everything else a mock monitor answers locally.

Registration goes through ``RegisterResource`` rather than ``Mocks.new_resource`` because only
the raw request carries what the engine needs: the serialised inputs exactly as the SDK's
``rpc.serialize_properties`` produced them (``__provider`` arrives there as a secret: the
dynamic ``Resource`` wraps the pickled provider in ``Output.secret``), plus dependencies,
``delete_before_replace``, ``ignore_changes``, ``replace_on_changes`` and friends.

Exit codes: 0 success, 1 program error (traceback on stderr), 3 stopped because the engine
aborted the deployment after a failed step (the parent already knows why).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import grpc
from google.protobuf import empty_pb2
from pulumi.errors import RunError
from pulumi.runtime import mocks, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, resource_pb2_grpc
from pulumi.runtime.stack import run_in_stack

from ._protocol import EXIT_ABORTED, EXIT_OK, EXIT_PROGRAM_ERROR, STACK_TYPE


class _UnsupportedMocks(mocks.Mocks):
    """Mocks for what the harness does not engine: invokes and ``Resource.get`` reads."""

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"the engine harness does not support invoke {args.token!r}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        raise NotImplementedError(
            f"the engine harness does not support reading existing resource {args.name!r}"
        )


class ForwardingMonitor(mocks.MockMonitor):
    """A mock monitor that sends resource registrations to the harness engine."""

    def __init__(self, stub: resource_pb2_grpc.ResourceMonitorStub) -> None:
        super().__init__(_UnsupportedMocks())
        self._stub = stub

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest) -> Any:
        # The root stack is a component the engine does not act on; answer it locally.
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        # grpc.RpcError propagates: the SDK turns it into the registration's exception (an
        # UNAVAILABLE status becomes RunError, ending the program quietly, as with a real engine).
        return self._stub.RegisterResource(request)

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest
    ) -> empty_pb2.Empty:
        self._stub.RegisterResourceOutputs(request)
        return empty_pb2.Empty()


def _load_program(spec: dict[str, Any]) -> Any:
    """Return a zero-argument callable running the program described by ``spec``."""
    if spec.get("program_callable"):
        import dill

        func = dill.loads(base64.b64decode(spec["program_callable"]))
        return func
    program_dir = spec["program_dir"]
    sys.path.insert(0, program_dir)
    os.chdir(program_dir)

    def run_main() -> None:
        # Like the Python language host: run the project directory's __main__.py as __main__.
        runpy.run_path(program_dir, run_name="__main__")

    return run_main


def main(argv: list[str]) -> int:
    """Run the program described by the JSON spec file ``argv[1]``; return the exit code."""
    with open(argv[1], encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)

    set_all_config(dict(spec["config"]), list(spec.get("secret_config_keys", [])))
    channel = grpc.insecure_channel(spec["monitor"])
    monitor = ForwardingMonitor(resource_pb2_grpc.ResourceMonitorStub(channel))

    # The SDK runs every registration RPC in the loop's default executor; size it so that the
    # engine's --parallel, not the executor (min(32, cpus + 4) by default), bounds concurrency.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=int(spec["parallel"]) + 8))

    # set_mocks builds and immediately finishes a root Stack of its own when none exists, which
    # would register (empty) stack outputs; pre-seed the root so it does not, then clear it so
    # run_in_stack creates the real Stack and registers the exports once the program is done.
    settings.ROOT.set(cast(Any, object()))
    mocks.set_mocks(
        _UnsupportedMocks(),
        project=spec["project"],
        stack=spec["stack"],
        preview=bool(spec["preview"]),
        monitor=monitor,
        organization=spec.get("organization", "organization"),
    )
    settings.ROOT.set(None)

    try:
        program = _load_program(spec)
        loop.run_until_complete(run_in_stack(program))
    except RunError as exn:
        print(f"program stopped: {exn}", file=sys.stderr)
        return EXIT_ABORTED
    except BaseException:  # the program's own failure, whatever it is
        traceback.print_exc()
        return EXIT_PROGRAM_ERROR
    finally:
        channel.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv))
