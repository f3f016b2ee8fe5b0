"""Run a Python policy pack exactly as the Pulumi CLI does, and ask it about resources.

The CLI starts a Python pack through the language host as::

    python -u -m pulumi.policy <engine-address> .      (cwd = the pack directory)

with the stack's config in ``PULUMI_CONFIG`` and ``PULUMI_PROJECT`` / ``PULUMI_STACK`` /
``PULUMI_DRY_RUN``; the pack prints the port of its Analyzer gRPC server on stdout. The CLI
then calls ``GetAnalyzerInfo``, ``Configure`` (every policy, with its enforcement level and
the schema defaults filled in) and ``Analyze`` per resource / ``AnalyzeStack`` for the
stack. :class:`PolicyRunner` does the same, serving a tiny fake Engine for the pack's logs.

Typical use by a test or an engine harness::

    with PolicyRunner("policy", {"vigo-vm-max-vcpu": {"maxVcpu": 8}}) as runner:
        runner.enforce(vm)                     # raises PolicyViolationError if mandatory
        diagnostics = runner.analyze_stack([vm, other])

This module is the runner alone. What it is built of has modules of its own: the resources
and diagnostics it deals in (:mod:`.diagnostics`), the CLI's configuration rule
(:mod:`.policy_config`) and the plugin-process plumbing (:mod:`.plugin`); the names tests
import from here are re-exported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from .diagnostics import UNKNOWN_SENTINEL as UNKNOWN_SENTINEL
from .diagnostics import (
    AnalyzedResource,
    Diagnostic,
    Resource,
    from_proto,
    make_urn,
    mandatory_violations,
    raise_on_mandatory,
    to_violation,
)
from .errors import PolicyViolationError
from .plugin import FakeEngine, StartsAndCloses, drain, read_port
from .policy_config import configure_request as _configure_request
from .props import UNKNOWN, Secret, to_struct

__all__ = [
    "UNKNOWN",
    "AnalyzedResource",
    "Diagnostic",
    "FakeEngine",
    "PolicyRunner",
    "PolicyViolationError",
    "Resource",
    "Secret",
    "make_urn",
    "mandatory_violations",
    "raise_on_mandatory",
    "to_struct",
    "to_violation",
]


class PolicyRunner(StartsAndCloses):
    """Starts the policy pack in ``pack_dir`` as the CLI does; a context manager.

    ``config`` is the pack config in the CLI's ``--policy-pack-config`` form:
    ``{"<policy>": "mandatory"|"advisory"|"disabled"}`` or
    ``{"<policy>": {"enforcementLevel": ..., "<property>": value}}``, plus an optional
    ``"all"`` level for every policy. Like the CLI, the runner configures *every* policy,
    filling schema defaults and each policy's own level; pass ``configure=False`` to skip
    ``Configure`` entirely. ``stack_config`` (e.g. ``{"vigo:uri": ...}``) is the stack's
    config, which the CLI hands the pack in ``PULUMI_CONFIG``.
    """

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        config: Mapping[str, Any] | None = None,
        *,
        stack_config: Mapping[str, str] | None = None,
        configure: bool = True,
        project: str = "test",
        stack: str = "test",
        dry_run: bool = True,
        python: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        self.config = dict(config or {})
        self.stack_config = dict(stack_config or {})
        self._configure = configure
        self.project = project
        self.stack = stack
        self.dry_run = dry_run
        self.python = python or sys.executable
        self.timeout = timeout
        self.engine = FakeEngine()
        self.info: analyzer_pb2.AnalyzerInfo | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the fake engine and the pack, connect, read its info and configure it."""
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise FileNotFoundError(f"no PulumiPolicy.yaml in {self.pack_dir}")
        try:
            self._spawn()
            self.info = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=self.timeout)
            if self._configure:
                self.configure(self.config)
        except BaseException:
            self.close()
            raise

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PULUMI_CONFIG", None)
        if self.stack_config:
            env["PULUMI_CONFIG"] = json.dumps(self.stack_config)
        env["PULUMI_PROJECT"] = self.project
        env["PULUMI_STACK"] = self.stack
        env["PULUMI_DRY_RUN"] = "true" if self.dry_run else "false"
        return env

    def _spawn(self) -> None:
        address = self.engine.start()
        # Lives as long as the plugin; close() closes it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", address, "."],
            cwd=self.pack_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self._process.stdout is not None
        port = read_port(self._process.stdout, self.timeout)
        if port is None:
            raise RuntimeError(f"policy pack in {self.pack_dir} did not start:\n{self.stderr}")
        threading.Thread(target=drain, args=(self._process.stdout,), daemon=True).start()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def close(self) -> None:
        """Stop the pack (the CLI kills its plugins too) and the fake engine."""
        self._stub = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.engine.stop()

    # ---------------------------------------------------------------- inspection

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """The raw Analyzer client, for calls the runner does not wrap."""
        if self._stub is None:
            raise RuntimeError("PolicyRunner is not started")
        return self._stub

    @property
    def stderr(self) -> str:
        """Everything the pack wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @property
    def policy_names(self) -> list[str]:
        """Names of the pack's policies, in the pack's order."""
        return [p.name for p in self.info.policies] if self.info is not None else []

    # ---------------------------------------------------------------- configure

    def configure(self, config: Mapping[str, Any]) -> None:
        """(Re)configure the running pack with ``config``, as the CLI does at start."""
        request = self.configure_request(config)
        self.stub.Configure(request, timeout=self.timeout)
        self.config = dict(config)

    def configure_request(
        self, config: Mapping[str, Any] | None = None
    ) -> analyzer_pb2.ConfigureAnalyzerRequest:
        """The ``Configure`` request the CLI would send for ``config`` (default: ours)."""
        if self.info is None:
            raise RuntimeError("PolicyRunner is not started")
        return _configure_request(self.info, self.config if config is None else config)

    # ---------------------------------------------------------------- analyze

    def analyze(self, resource: AnalyzedResource) -> list[Diagnostic]:
        """Run every resource policy on one resource, as before its step executes."""
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=to_struct(resource.properties),
        )
        response = self.stub.Analyze(request, timeout=self.timeout)
        # A resource policy's violation always concerns the analyzed resource; the SDK
        # leaves its urn empty and the engine attaches the resource's URN, as we do here.
        return [from_proto(d, default_urn=resource.urn) for d in response.diagnostics]

    def analyze_stack(self, resources: Iterable[AnalyzedResource]) -> list[Diagnostic]:
        """Run every stack policy over the whole set of resources."""
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type, urn=r.urn, name=r.name, properties=to_struct(r.properties)
                )
                for r in resources
            ]
        )
        response = self.stub.AnalyzeStack(request, timeout=self.timeout)
        return [from_proto(d) for d in response.diagnostics]

    def enforce(self, resource: AnalyzedResource) -> list[Diagnostic]:
        """Analyze ``resource``; raise on a mandatory violation, else return the advisories."""
        diagnostics = self.analyze(resource)
        raise_on_mandatory(diagnostics)
        return diagnostics

    def enforce_stack(self, resources: Iterable[AnalyzedResource]) -> list[Diagnostic]:
        """Analyze the stack; raise on a mandatory violation, else return the advisories."""
        diagnostics = self.analyze_stack(resources)
        raise_on_mandatory(diagnostics)
        return diagnostics
