"""Commands on an SSH host: one exec channel each, bounded in number and in time.

The remote side hands a command string to the login shell, so every argument is quoted and
the command runs under a small ``sh`` wrapper (:data:`_BOUND_TO_CHANNEL`) that ties it to
its channel: sshd leaves a command without a pty running when its channel closes, so a
command we gave up on at its deadline (or lost with the connection) would otherwise run on.
At most :data:`~.transport.EXEC_CHANNELS` commands run at once per host, within sshd's
MaxSessions. A command is retried over a new connection only when it cannot have started
(its channel never opened); once it may have run, a lost connection is reported as such.
stdout and stderr are read concurrently, so a chatty command cannot deadlock on either.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Sequence
from functools import partial

import paramiko

from ...errors import CommandError, CommandTimeoutError, HostError, HostUnreachableError
from ..base import CommandResult, command_timeout
from .connect import CONNECT_TIMEOUT
from .transport import EXEC_CHANNELS, SshConnection

__all__ = ["CommandRunner"]


class CommandRunner:
    """Runs commands over one :class:`~.transport.SshConnection`. Thread-safe."""

    def __init__(self, connection: SshConnection) -> None:
        self._connection = connection
        self._exec_slots = threading.BoundedSemaphore(EXEC_CHANNELS)

    @property
    def name(self) -> str:
        return self._connection.name

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> CommandResult:
        if not argv:
            raise ValueError("run() needs a command")
        limit = command_timeout(timeout)
        # The remote side hands this string to the login shell: every argument is quoted.
        shown = shlex.join(argv)
        with self._exec_slots:
            channel = self._open_exec_channel(
                shlex.join(["sh", "-c", _BOUND_TO_CHANNEL, "sh", *argv]), shown=shown
            )
            deadline = _Deadline(channel, limit)
            try:
                result = self._collect(channel, argv)
            except HostUnreachableError as exc:
                if deadline.settle():  # our own close at the deadline, not a lost connection
                    raise CommandTimeoutError(self.name, argv, limit) from exc
                raise
            finally:
                expired = deadline.settle()
                channel.close()
        if expired:
            raise CommandTimeoutError(self.name, argv, limit)
        if result.returncode == 127 and "not found" in result.stderr:
            raise HostError(
                f"{argv[0]} is not installed on {self.name}; install it (e.g. apt-get install "
                f"qemu-utils) and retry"
            )
        if check and result.returncode != 0:
            raise CommandError(self.name, argv, result.returncode, result.stderr)
        return result

    def open_stream(self, command: str) -> paramiko.Channel:
        """A channel running ``command`` with its stdin open: a byte pipe to a remote program.

        For long-lived conversations (libvirt's RPC stream rides on one for the whole run), so
        it is not counted against the budget of concurrently running commands.
        """
        return self._open_exec_channel(command, shown=command)

    def _open_exec_channel(self, command: str, *, shown: str) -> paramiko.Channel:
        """An exec channel running ``command`` (``shown`` in messages), its stdin left open.
        Retried once only if it did not start."""
        for attempt in (1, 2):
            transport, generation = self._connection.transport()
            try:
                channel = self._connection.open_channel(
                    partial(transport.open_session, timeout=CONNECT_TIMEOUT)
                )
            except (paramiko.SSHException, EOFError, OSError) as exc:
                # The channel never opened, so the command certainly did not run.
                self._connection.drop(generation)
                if attempt == 2:
                    raise HostUnreachableError(
                        f"lost the SSH connection to {self.name} before running {shown}: {exc}"
                    ) from exc
                continue
            try:
                channel.exec_command(command)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                channel.close()
                self._connection.drop(generation)
                raise HostUnreachableError(
                    f"lost the SSH connection to {self.name} starting {shown} (it may or may "
                    f"not have run): {exc}"
                ) from exc
            return channel
        raise AssertionError("unreachable")

    def _collect(self, channel: paramiko.Channel, argv: Sequence[str]) -> CommandResult:
        """Read stdout and stderr to the end, concurrently, then the exit status.

        Reading one stream to the end before the other would deadlock once the command fills
        the channel window with output on the other stream.
        """
        errors: list[bytes] = []
        failures: list[BaseException] = []

        def read_stderr() -> None:
            try:
                errors.append(channel.makefile_stderr("rb").read())
            except BaseException as exc:
                failures.append(exc)

        reader = threading.Thread(target=read_stderr, name=f"ssh-stderr {self.name}", daemon=True)
        reader.start()
        try:
            out = channel.makefile("rb").read()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            out = b""
            failures.insert(0, exc)
        reader.join()
        status = channel.recv_exit_status()
        transport = channel.get_transport()
        if failures or (status == -1 and not (transport and transport.is_active())):
            cause = failures[0] if failures else None
            raise HostUnreachableError(
                f"lost the SSH connection to {self.name} while running {shlex.join(argv)}; it "
                f"may or may not have completed"
            ) from cause
        err = b"".join(errors)
        return CommandResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


_BOUND_TO_CHANNEL = (
    "exec 3<&0; { read -r _ <&3; kill -KILL 0; } >/dev/null 2>&1 & "
    '"$@" </dev/null 3<&-; status=$?; kill $! 2>/dev/null; exit $status'
)
"""``sh -c`` script that runs its arguments as the command, tied to the exec channel's life.

sshd leaves a command without a pty running when its channel closes (no SIGHUP, and the
"signal" request is refused by many servers), so a command we gave up on would run on. The
command gets an empty stdin; a watcher blocks reading the channel's stdin, which we never
write to or close: EOF there means the channel is gone (closed on timeout, or the connection
died), and the watcher kills the session's process group (sshd makes each session its own),
so the command and whatever it started go too. A command that finishes stops the watcher."""


class _Deadline:
    """Closes an exec channel whose command is still running ``seconds`` after it started."""

    def __init__(self, channel: paramiko.Channel, seconds: float) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._settled = False
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._settled:
                return
            self._expired = True
        self._channel.close()

    def settle(self) -> bool:
        """Stop the clock (idempotent); True when it ran out first and cut the command off."""
        self._timer.cancel()
        with self._lock:
            self._settled = True
            return self._expired
