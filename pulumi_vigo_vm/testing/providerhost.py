"""A real ``python -m pulumi.dynamic`` provider process, driven over gRPC like the engine does.

The engine launches one provider plugin per provider for the whole deployment, reads the port it
prints on stdout, calls ``Configure`` once and then issues ``Check``/``Diff``/``Create``/... RPCs,
possibly concurrently. Doing exactly that (instead of unpickling the provider in-process) is what
makes the harness trustworthy: the provider is deserialised by the SDK's own code in a fresh
interpreter, sees floats for numbers, never sees secrets, and its thread pool (four workers in
``pulumi/dynamic/__main__.py``) bounds concurrency the same way it does under ``pulumi up``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import grpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from ..dynamic import lastwords
from . import props
from .errors import CheckFailure, HarnessError, ProviderError

_PORT_TIMEOUT = 60.0
_LOG_LINES = 400
_DEATH_GRACE_S = 10.0
"""A failed RPC waits this long, at most, for the provider to be seen dead (its socket
closes a moment before the kernel reaps it) and for its last output to be read."""
_LAST_WORDS_CHARS = 8000
"""The end of a dead provider's own log quoted in the error: a fault's stacks fit."""
# The engine talks to providers with a 400 MiB message limit (pulumi's _MAX_RPC_MESSAGE_SIZE);
# gRPC's default of 4 MiB would fail a Check that echoes a large (valid) user-data.
_MAX_MESSAGE_BYTES = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
]


@dataclass
class DiffResult:
    """The parts of a ``DiffResponse`` the engine acts on."""

    changes: int
    replaces: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


class DynamicProviderHost:
    """Owns one dynamic provider process and a gRPC stub to it.

    All methods take and return property bags in wire form (see :mod:`.props`); secrets are
    stripped before sending because the dynamic provider answers ``acceptSecrets=False``.
    Failures come back as :class:`~pulumi_vigo_vm.testing.errors.ProviderError` with the
    provider's traceback, with every known secret plaintext redacted.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, str],
        env: Mapping[str, str],
        cwd: str | None,
        rpc_timeout: float | None = None,
    ) -> None:
        self._config = dict(config)
        self._env = dict(env)
        self._cwd = cwd
        self._rpc_timeout = rpc_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._log: deque[str] = deque(maxlen=_LOG_LINES)
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Launch the provider, wait for its port, connect and ``Configure`` it."""
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._cwd,
            env=self._env,
        )
        self._proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        port_line: list[str] = []
        got_port = threading.Event()

        def read_stdout(stream: IO[bytes]) -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip("\n")
                if not got_port.is_set():
                    port_line.append(line)
                    got_port.set()
                else:
                    self._log.append(line)
            got_port.set()

        self._readers = [
            threading.Thread(target=read_stdout, args=(proc.stdout,), daemon=True),
            threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if not got_port.wait(_PORT_TIMEOUT) or not port_line or not port_line[0].isdigit():
            self.close()
            raise HarnessError(
                "the dynamic provider did not start (no port on stdout):\n" + self.log_tail()
            )
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port_line[0]}", options=_CHANNEL_OPTIONS)
        grpc.channel_ready_future(self._channel).result(timeout=_PORT_TIMEOUT)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self.configure()

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._log.append(raw.decode(errors="replace").rstrip("\n"))

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the provider printed (stdout after the port, and stderr)."""
        return props.redact("\n".join(list(self._log)[-lines:]), self._secrets)

    def close(self) -> None:
        """Shut the provider down (the engine kills plugins when the deployment ends)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in self._readers:  # so log_tail() holds everything it printed
            reader.join(_DEATH_GRACE_S)

    # -- helpers -------------------------------------------------------------------------------

    def remember_secrets(self, *bags: Any) -> None:
        """Record secret plaintexts so they are redacted from error messages and logs."""
        found = props.secret_strings(*bags)
        if found:
            with self._lock:
                self._secrets |= found

    def _wire(self, bag: Mapping[str, Any]) -> Any:
        """A bag as the provider must receive it: secrets unwrapped (acceptSecrets=False)."""
        self.remember_secrets(bag)
        return props.to_struct(props.unwrap_secrets(dict(bag)))

    def _call(self, method: str, urn: str, request: Any) -> Any:
        if self._stub is None:
            raise HarnessError("the dynamic provider is not running")
        try:
            return getattr(self._stub, method)(request, timeout=self._rpc_timeout)
        except grpc.RpcError as exn:
            details = exn.details() if hasattr(exn, "details") else str(exn)
            message = (details or str(exn)) + self._death_report(exn)
            raise ProviderError(method, urn, props.redact(message, self._secrets)) from None

    def _death_report(self, exn: grpc.RpcError) -> str:
        """Why the provider is gone, when it is: how it ended (exit code or signal), the
        last lines it printed, and what it wrote to its own log
        (:mod:`pulumi_vigo_vm.dynamic.lastwords`). Empty while it lives.

        The engine reports a dead plugin's RPC as ``UNAVAILABLE`` ("Socket closed") before
        the kernel has reaped it, so such a failure waits (briefly) for the exit, and for
        the readers to reach the end of its output, instead of reporting an empty log."""
        proc = self._proc
        if proc is None:
            return ""
        code = exn.code() if hasattr(exn, "code") else None
        try:
            proc.wait(timeout=_DEATH_GRACE_S if code == grpc.StatusCode.UNAVAILABLE else 0)
        except subprocess.TimeoutExpired:
            return ""
        for reader in self._readers:
            reader.join(_DEATH_GRACE_S)
        report = f"\n(provider process exited: {describe_exit(proc.returncode)})"
        tail = self.log_tail()
        report += "\nits output ended with:\n" + tail if tail else "\nit printed nothing"
        words = read_last_words(proc.pid, self._env)
        if words:
            report += f"\nits log {lastwords.log_path(proc.pid, self._env)} says:\n{words}"
        return report

    def _resource_call(
        self,
        method: str,
        urn: str,
        *,
        bags: Mapping[str, Mapping[str, Any]],
        **fields: Any,
    ) -> Any:
        """Call ``method`` about the resource ``urn`` with a ``<method>Request``.

        The request names the resource (``urn``, ``name``, ``type``) and carries ``fields``
        as given and each of ``bags`` (request field -> property bag) as :meth:`_wire` sends
        it, secrets stripped.
        """
        name, type_ = _name_type(urn)
        request_type = getattr(provider_pb2, f"{method}Request")
        wired = {key: self._wire(bag) for key, bag in bags.items()}
        request = request_type(urn=urn, name=name, type=type_, **wired, **fields)
        return self._call(method, urn, request)

    def _change_call(
        self,
        method: str,
        urn: str,
        id_: str,
        old_outputs: Mapping[str, Any],
        old_inputs: Mapping[str, Any],
        news: Mapping[str, Any],
        ignore_changes: Iterable[str],
    ) -> Any:
        """``Diff`` and ``Update`` are asked about the same change, in the same request shape."""
        return self._resource_call(
            method,
            urn,
            id=id_,
            bags={"olds": old_outputs, "news": news, "old_inputs": old_inputs},
            ignoreChanges=list(ignore_changes),
        )

    # -- RPCs ----------------------------------------------------------------------------------

    def configure(self) -> None:
        """``Configure`` with the stack config, namespaced keys, as ``args`` (and ``variables``)."""
        request = provider_pb2.ConfigureRequest(
            variables=self._config,
            args=props.to_struct(self._config),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        self._call("Configure", "(provider)", request)

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[props.PropertyMap, list[CheckFailure]]:
        """``Check(olds=previous inputs, news=new inputs)`` -> (checked inputs, failures)."""
        response = self._resource_call(
            "Check", urn, bags={"olds": olds, "news": news}, randomSeed=os.urandom(32)
        )
        failures = [CheckFailure(f.property, f.reason) for f in response.failures]
        return props.from_struct(response.inputs), failures

    def diff(
        self,
        urn: str,
        id_: str,
        *,
        old_outputs: Mapping[str, Any],
        old_inputs: Mapping[str, Any],
        news: Mapping[str, Any],
        ignore_changes: Iterable[str] = (),
    ) -> DiffResult:
        """``Diff(id, olds=previous outputs, news=checked inputs, old_inputs=previous inputs)``."""
        response = self._change_call(
            "Diff", urn, id_, old_outputs, old_inputs, news, ignore_changes
        )
        return DiffResult(
            changes=int(response.changes),
            replaces=list(response.replaces),
            diffs=list(response.diffs),
            delete_before_replace=bool(response.deleteBeforeReplace),
        )

    def create(self, urn: str, news: Mapping[str, Any]) -> tuple[str, props.PropertyMap]:
        """``Create(properties=checked inputs)`` -> (id, outputs)."""
        response = self._resource_call("Create", urn, bags={"properties": news})
        if not response.id:
            raise ProviderError("Create", urn, "provider returned an empty resource ID")
        return str(response.id), props.from_struct(response.properties)

    def update(
        self,
        urn: str,
        id_: str,
        *,
        old_outputs: Mapping[str, Any],
        old_inputs: Mapping[str, Any],
        news: Mapping[str, Any],
        ignore_changes: Iterable[str] = (),
    ) -> props.PropertyMap:
        """``Update(id, olds=previous outputs, news=checked inputs)`` -> outputs."""
        response = self._change_call(
            "Update", urn, id_, old_outputs, old_inputs, news, ignore_changes
        )
        return props.from_struct(response.properties)

    def delete(
        self, urn: str, id_: str, *, outputs: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> None:
        """``Delete(id, properties=outputs, old_inputs=inputs)``."""
        self._resource_call(
            "Delete", urn, id=id_, bags={"properties": outputs, "old_inputs": inputs}
        )

    def read(
        self, urn: str, id_: str, *, outputs: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> tuple[str, props.PropertyMap, props.PropertyMap | None]:
        """``Read(id, properties=outputs, inputs=inputs)`` -> (id, "" if gone; outputs; inputs)."""
        response = self._resource_call(
            "Read", urn, id=id_, bags={"properties": outputs, "inputs": inputs}
        )
        new_inputs = props.from_struct(response.inputs) if response.HasField("inputs") else None
        return str(response.id), props.from_struct(response.properties), new_inputs


def describe_exit(returncode: int) -> str:
    """A process's exit status in words: ``exit code 1``, ``killed by SIGSEGV``."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def read_last_words(pid: int, env: Mapping[str, str]) -> str:
    """The end of the provider ``pid``'s own log (a fault's stacks, uncaught exceptions),
    or "" when it wrote none."""
    try:
        with open(lastwords.log_path(pid, dict(env)), encoding="utf-8", errors="replace") as log:
            text = log.read()
    except OSError:
        return ""
    return text[-_LAST_WORDS_CHARS:].strip()


def _name_type(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    if len(parts) < 4:
        return urn, ""
    return "::".join(parts[3:]), parts[2].split("$")[-1]
