"""The program runner: serve the ResourceMonitor and run the program in a child interpreter.

The language host's job under the real engine (``pulumi-language-python`` launching the
program against the engine's monitor address): here :mod:`.languagehost` runs in a child
process with a JSON spec (monitor address, project, stack, config, the program), its output is
collected (and echoed when asked), and the run waits for every step the program started.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent import futures
from typing import IO, TYPE_CHECKING, Any

import grpc
from pulumi.runtime.proto import resource_pb2_grpc

from ._protocol import EXIT_ABORTED
from .errors import ProgramError
from .monitor import ResourceMonitor

if TYPE_CHECKING:
    from .deployment import Deployment

__all__ = ["collect_output", "run_program", "tail"]


def run_program(run: Deployment) -> tuple[int, str]:
    """Serve the ResourceMonitor, run the program in a child process, wait for all steps.

    Returns the program's exit code and its combined output.
    """
    h = run.h
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=h.parallel + 4))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(ResourceMonitor(run), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    spec: dict[str, Any] = {
        "monitor": f"127.0.0.1:{port}",
        "project": h.project,
        "stack": h.stack,
        "preview": run.preview,
        "config": h.config,
        "secret_config_keys": h.secret_config_keys,
        "parallel": h.parallel,
        "program_dir": str(h.program_dir) if h.program_dir else None,
        "program_callable": None,
    }
    if h.program_dir is None:
        import dill

        spec["program_callable"] = base64.b64encode(dill.dumps(h.program, recurse=True)).decode()
    fd, spec_path = tempfile.mkstemp(prefix="pulumi-harness-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi_vigo_vm.testing.languagehost", spec_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=h._cwd(),
            env=h._child_env(),
        )
        chunks: list[str] = []
        assert proc.stdout is not None
        reader = threading.Thread(
            target=collect_output, args=(proc.stdout, chunks, h.echo), daemon=True
        )
        reader.start()
        try:
            exit_code = proc.wait(timeout=h.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            run.error(ProgramError(f"the program timed out after {h.timeout}s"))
            exit_code = -9
        reader.join(timeout=10)
        # The program may end (e.g. after an aborted registration) while steps it started
        # are still running: the engine lets them finish and checkpoints them.
        with run.idle:
            while run.in_flight:
                run.idle.wait()
    finally:
        server.stop(grace=None)
        os.unlink(spec_path)
    output = "".join(chunks)
    if exit_code == EXIT_ABORTED and not run.result.errors:
        run.error(ProgramError("the program was aborted by the engine", output))
    return exit_code, output


def collect_output(stream: IO[bytes], chunks: list[str], echo: bool) -> None:
    """Append each line of ``stream`` to ``chunks`` (and to stderr with ``echo``)."""
    for raw in iter(stream.readline, b""):
        text = raw.decode(errors="replace")
        chunks.append(text)
        if echo:
            sys.stderr.write(text)
            sys.stderr.flush()


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
