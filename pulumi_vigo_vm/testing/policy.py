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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, Self, TypeAlias

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from .errors import PolicyViolationError, Violation
from .props import UNKNOWN, Secret, to_struct

if TYPE_CHECKING:
    _Level: TypeAlias = analyzer_pb2.EnforcementLevel.ValueType

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

UNKNOWN_SENTINEL: Final = UNKNOWN
"""How the engine marshals any unknown (computed) value for an analyzer: KeepUnknowns
turns every unknown into the *string* unknown sentinel, whatever its eventual type. It is
:data:`UNKNOWN` itself: put it in a resource's properties to send an unknown value."""

_LEVEL_NAMES: Final[dict[_Level, str]] = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_LEVEL_VALUES: Final[dict[str, _Level]] = {name: value for value, name in _LEVEL_NAMES.items()}


class AnalyzedResource(Protocol):
    """What the runner needs of a resource; any object with these attributes will do."""

    @property
    def type(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


def make_urn(type_: str, name: str, *, project: str = "test", stack: str = "test") -> str:
    """The URN the engine gives a top-level resource ``name`` of type ``type_``."""
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


@dataclass(frozen=True)
class Resource:
    """A resource as the analyzer sees it: type, URN, name and (input) properties."""

    type: str
    urn: str
    name: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        type_: str,
        name: str,
        properties: Mapping[str, Any],
        *,
        project: str = "test",
        stack: str = "test",
    ) -> Resource:
        """A top-level resource with the URN the engine would give it."""
        return cls(type_, make_urn(type_, name, project=project, stack=stack), name, properties)


@dataclass(frozen=True)
class Diagnostic:
    """One policy violation reported by the pack."""

    policy_name: str
    message: str
    enforcement_level: str
    """``"advisory"`` or ``"mandatory"`` (``"disabled"``/``"remediate"`` never reach here)."""
    urn: str
    """The resource in violation; empty for a stack-wide violation."""
    description: str = ""
    policy_pack_name: str = ""

    @property
    def mandatory(self) -> bool:
        """Whether this violation must stop ``pulumi up``."""
        return self.enforcement_level == "mandatory"


def to_violation(diagnostic: Diagnostic) -> Violation:
    """A pack diagnostic as a harness violation: only ``mandatory`` ones block a step."""
    return Violation(
        policy=diagnostic.policy_name,
        message=diagnostic.message,
        urn=diagnostic.urn,
        mandatory=diagnostic.mandatory,
    )


def mandatory_violations(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics that block an update."""
    return [d for d in diagnostics if d.mandatory]


def raise_on_mandatory(diagnostics: Sequence[Diagnostic]) -> None:
    """Raise :class:`PolicyViolationError` if any diagnostic is mandatory.

    The error's ``violations`` are the mandatory ones; its ``diagnostics`` all of them.
    """
    mandatory = mandatory_violations(diagnostics)
    if mandatory:
        raise PolicyViolationError([to_violation(d) for d in mandatory], diagnostics)


def _diagnostic(d: analyzer_pb2.AnalyzeDiagnostic, default_urn: str = "") -> Diagnostic:
    return Diagnostic(
        policy_name=d.policyName,
        message=d.message,
        enforcement_level=_LEVEL_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)),
        urn=d.urn or default_urn,
        description=d.description,
        policy_pack_name=d.policyPackName,
    )


# --------------------------------------------------------------------------- lifecycle


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


# --------------------------------------------------------------------------- fake engine


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


# --------------------------------------------------------------------------- runner


def _read_port(stdout: IO[bytes], timeout: float) -> int | None:
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


def _drain(stream: IO[bytes]) -> None:
    """Keep reading a pipe so the plugin never blocks on a full one."""
    for _ in iter(stream.readline, b""):
        pass


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
        port = _read_port(self._process.stdout, self.timeout)
        if port is None:
            raise RuntimeError(f"policy pack in {self.pack_dir} did not start:\n{self.stderr}")
        threading.Thread(target=_drain, args=(self._process.stdout,), daemon=True).start()
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
        config = self.config if config is None else config
        known = {p.name: p for p in self.info.policies}
        unknown = sorted(set(config) - set(known) - {"all"})
        if unknown:
            raise ValueError(f"config names no such policy: {', '.join(unknown)}")
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, policy in known.items():
            level, properties = _policy_config(policy, config)
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=to_struct(properties))
            )
        return request

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
        return [_diagnostic(d, default_urn=resource.urn) for d in response.diagnostics]

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
        return [_diagnostic(d) for d in response.diagnostics]

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


def _level(value: object) -> _Level:
    """An enforcement level name as the proto enum value."""
    if not isinstance(value, str) or value not in _LEVEL_VALUES:
        raise ValueError(f"unknown enforcement level {value!r}; use one of {list(_LEVEL_VALUES)}")
    return _LEVEL_VALUES[value]


def _policy_config(
    policy: analyzer_pb2.PolicyInfo, config: Mapping[str, Any]
) -> tuple[_Level, dict[str, Any]]:
    """Enforcement level and properties of one policy: schema defaults, then config."""
    schema = json_format.MessageToDict(policy.configSchema.properties)
    properties = {k: v["default"] for k, v in schema.items() if "default" in v}
    level = policy.enforcementLevel
    if "all" in config:
        level = _level(config["all"])
    given = config.get(policy.name)
    if isinstance(given, str):
        level = _level(given)
    elif isinstance(given, Mapping):
        extra = sorted(set(given) - set(schema) - {"enforcementLevel"})
        if extra:
            raise ValueError(f"{policy.name} has no config property {', '.join(extra)}")
        if "enforcementLevel" in given:
            level = _level(given["enforcementLevel"])
        properties.update({k: v for k, v in given.items() if k != "enforcementLevel"})
    elif given is not None:
        raise ValueError(f"config for {policy.name} must be a level or an object")
    return level, properties
