"""Where a provider process that dies leaves its reason: its own file, and stderr.

Why: the engine runs the package's providers in a ``python -m pulumi.dynamic`` process it
starts, reads, and kills when the deployment ends; the package never owns that entry point.
A process that dies of a fatal signal (a crash in a C library: libvirt, gRPC, OpenSSL)
prints nothing unless :mod:`faulthandler` is on, and an exception that ends a thread of
ours is printed only to a stderr that may go nowhere. Issue 22 was a provider that died in
the middle of an ``up`` with an empty log: no way to tell why.

So the first provider the process configures calls :func:`install`, which

* opens ``provider-<pid>.log`` (mode 0600, in a 0700 directory, see :func:`log_dir`) and
  points :func:`faulthandler.enable` at it: a segfault, abort, bus or floating point error
  writes every thread's Python stack there before the process dies;
* chains ``sys.excepthook`` and ``threading.excepthook``: an uncaught exception is written
  to that file (time, pid, thread, traceback) and still printed to stderr by the previous
  hook, which the engine records in its log.

Tracebacks name code, never values; the package's own messages never carry a secret (see
docs/ownership.md), and the file is readable by its owner only. A process with nothing to say
leaves an empty file; the next provider that starts removes the empty files of processes
that are gone and keeps the newest :data:`KEEP` of the others (a SIGKILL, e.g. the
kernel's OOM killer, leaves no word anywhere: only the exit status tells it).
"""

from __future__ import annotations

import contextlib
import datetime
import faulthandler
import os
import stat
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import TextIO

__all__ = ["ENV_DIR", "KEEP", "install", "log_dir", "log_path"]

ENV_DIR = "VIGO_PROVIDER_LOG_DIR"
"""Overrides :func:`log_dir` (the test harness points it next to its state file)."""
KEEP = 20
"""Logs with something in them kept at most, newest first."""
_PREFIX = "provider-"
_SUFFIX = ".log"

_lock = threading.Lock()
_installed: list[Path | None] = []
"""Once :func:`install` ran: its answer (the log's path, or None)."""


def log_dir(environ: dict[str, str] | None = None) -> Path:
    """``$VIGO_PROVIDER_LOG_DIR``, else ``$XDG_STATE_HOME/pulumi-vigo-vm``, else
    ``~/.local/state/pulumi-vigo-vm``: the user's state directory (XDG base directories)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR])
    state = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state):  # the XDG rule: a relative path is invalid, ignored
        state = str(Path.home() / ".local" / "state")
    return Path(state) / "pulumi-vigo-vm"


def log_path(pid: int, environ: dict[str, str] | None = None) -> Path:
    """The log of the provider process ``pid``."""
    return log_dir(environ) / f"{_PREFIX}{pid}{_SUFFIX}"


def install() -> Path | None:
    """Make this process leave its reason when it dies (once per process; later calls do
    nothing). Returns the log's path, or None when no private log could be made (the hooks
    then still print to stderr, and so does :mod:`faulthandler`)."""
    with _lock:
        if _installed:
            return _installed[0]
        try:
            path: Path | None = log_path(os.getpid())
        except (RuntimeError, KeyError):  # no home directory to speak of
            path = None
        log = _open_log(path) if path is not None else None
        faulthandler.enable(file=log or sys.__stderr__ or sys.stderr, all_threads=True)
        _chain_hooks(log)
        if log is None or path is None:
            path = None
        _installed.append(path)
    if path is not None:
        with contextlib.suppress(OSError):
            _sweep(path.parent, os.getpid())
    return path


def _open_log(path: Path) -> TextIO | None:
    """``path`` opened for appending (created 0600), in a directory that is ours and 0700;
    None when there is none (read-only home, a directory of someone else's). The file
    stays open for the process's life: :mod:`faulthandler` writes to its descriptor."""
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return None
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(directory, 0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
    except OSError:
        return None
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace", buffering=1)


def _chain_hooks(log: TextIO | None) -> None:
    """Write each uncaught exception to ``log``, then let the previous hook print it."""
    previous_sys = sys.excepthook
    previous_thread = threading.excepthook

    def on_exception(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        _write(log, "main thread", kind, value, tb)
        previous_sys(kind, value, tb)

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "a thread"
        if args.exc_value is not None:
            _write(log, name, args.exc_type, args.exc_value, args.exc_traceback)
        previous_thread(args)

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception


def _write(
    log: TextIO | None,
    where: str,
    kind: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
) -> None:
    if log is None:
        return
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    text = "".join(traceback.format_exception(kind, value, tb))
    with contextlib.suppress(OSError, ValueError):
        log.write(f"{when} pid {os.getpid()}: uncaught in {where}:\n{text}")
        log.flush()


def _sweep(directory: Path, own_pid: int) -> None:
    """Among the logs of processes that are gone: remove the empty ones, and all but the
    newest :data:`KEEP` of the others. Only ``provider-<pid>.log`` regular files are
    touched."""
    kept: list[tuple[float, Path]] = []
    for entry in os.scandir(directory):
        name = entry.name
        pid_text = name.removeprefix(_PREFIX).removesuffix(_SUFFIX)
        if not (name.startswith(_PREFIX) and name.endswith(_SUFFIX) and pid_text.isdigit()):
            continue
        pid = int(pid_text)
        info = entry.stat(follow_symlinks=False)
        if pid == own_pid or not stat.S_ISREG(info.st_mode) or _alive(pid):
            continue
        if info.st_size == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        else:
            kept.append((info.st_mtime, Path(entry.path)))
    for _mtime, path in sorted(kept, reverse=True)[KEEP:]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
