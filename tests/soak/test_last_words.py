"""A provider process that dies leaves its reason somewhere (issue 22: one died in the
middle of a ``Check`` and the harness reported an empty log).

What dies here is real: a ``python -m pulumi.dynamic`` process serving the package's
provider, and a Python interpreter running :func:`pulumi_vigo_vm.dynamic.lastwords.install`. The
one thing not produced naturally is the fatal signal: no real part here segfaults on
demand, so the test sends the process the signal a crash would raise (faulthandler cannot
tell the difference)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from support.world import LOCAL_URI

from pulumi_vigo_vm.disk.provider import DiskProvider
from pulumi_vigo_vm.dynamic import lastwords
from pulumi_vigo_vm.testing import props
from pulumi_vigo_vm.testing.errors import ProviderError
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

from .fleet import PROGRAM

pytestmark = pytest.mark.libvirt

DISK_URN = "urn:pulumi:dev::soak::pulumi-python:dynamic/vigo:VigoDisk::data00"


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[DynamicProviderHost]:
    """A provider process whose logs go to ``tmp_path/logs``, configured like a stack's."""
    config = {"vigo:uri": LOCAL_URI, "vigo:domainType": "qemu", "vigo:imagesDir": str(tmp_path)}
    env = {**os.environ, lastwords.ENV_DIR: str(tmp_path / "logs")}
    host = DynamicProviderHost(config=config, env=env, cwd=str(PROGRAM))
    host.start()
    try:
        yield host
    finally:
        host.close()


_BLOB = serialize_provider(DiskProvider())


def _check_disk(host: DynamicProviderHost) -> None:
    """A ``Check`` (its answer does not matter: the provider is unpickled and configured)."""
    host.check(DISK_URN, {}, {"name": "soak-data00", "size_gib": 1, props.PROVIDER_KEY: _BLOB})


@pytest.mark.parametrize(
    ("signum", "words"),
    [
        (signal.SIGSEGV, "Fatal Python error: Segmentation fault"),
        (signal.SIGABRT, "Fatal Python error: Aborted"),
        (signal.SIGKILL, None),
    ],
)
def test_a_dead_provider_is_reported_with_how_it_ended_and_what_it_left(
    provider: DynamicProviderHost, tmp_path: Path, signum: signal.Signals, words: str | None
) -> None:
    _check_disk(provider)  # unpickled and configured: lastwords installed
    proc = provider._proc
    assert proc is not None
    log = tmp_path / "logs" / f"provider-{proc.pid}.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert log.read_text() == "", "a living provider has said nothing"

    os.kill(proc.pid, signum)
    proc.wait(timeout=30)
    with pytest.raises(ProviderError) as failed:
        _check_disk(provider)

    message = str(failed.value)
    assert f"provider process exited: killed by {signum.name}" in message
    if words is None:
        assert "it printed nothing" in message
        assert log.read_text() == ""
    else:
        assert words in log.read_text()
        assert f"its log {log} says:\n{words}" in message
        assert "Current thread" in message or "Thread 0x" in message, "the stacks"


def _python(code: str, logs: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, lastwords.ENV_DIR: str(logs)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_uncaught_exception_in_a_thread_goes_to_the_log_and_still_to_stderr(
    tmp_path: Path,
) -> None:
    done = _python(
        """
        import threading
        from pulumi_vigo_vm.dynamic import lastwords
        print(lastwords.install())
        assert lastwords.install() is not None  # each provider configured calls it: once
        def fail():
            raise RuntimeError("the relay lost its channel")
        worker = threading.Thread(target=fail, name="libvirt-relay host")
        worker.start()
        worker.join()
        """,
        tmp_path / "logs",
    )

    assert done.returncode == 0, done.stderr
    log = Path(done.stdout.strip())
    text = log.read_text()
    assert "uncaught in libvirt-relay host" in text
    assert text.count("RuntimeError: the relay lost its channel") == 1
    assert done.stderr.count("RuntimeError: the relay lost its channel") == 1, "engine's log"


def test_without_a_private_log_the_reason_still_goes_to_stderr_once(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    done = _python(
        """
        import threading
        from pulumi_vigo_vm.dynamic import lastwords
        assert lastwords.install() is None and lastwords.install() is None
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        """,
        not_a_directory / "logs",
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr.count("ZeroDivisionError") == 1


def test_logs_of_gone_processes_are_kept_only_when_they_say_something(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    gone_pid = _gone_pid()
    (logs / f"provider-{gone_pid}.log").write_text("")
    (logs / f"provider-{gone_pid + 1}.log").write_text("Fatal Python error: Aborted\n")
    living = logs / f"provider-{os.getpid()}.log"
    living.write_text("")
    theirs = logs / "notes.txt"
    theirs.write_text("")

    done = _python("from pulumi_vigo_vm.dynamic import lastwords; print(lastwords.install())", logs)

    assert done.returncode == 0, done.stderr
    names = {p.name for p in logs.iterdir()}
    assert f"provider-{gone_pid}.log" not in names, "empty and gone: nothing to keep"
    assert f"provider-{gone_pid + 1}.log" in names, "its reason is kept"
    assert living.exists(), "a living process's log is its own"
    assert theirs.exists(), "not ours"


def test_of_many_logs_that_say_something_the_newest_are_kept(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    gone_pid = _gone_pid()
    said = [logs / f"provider-{gone_pid + i}.log" for i in range(lastwords.KEEP + 5)]
    for age, log in enumerate(said):
        log.write_text("Fatal Python error: Aborted\n")
        os.utime(log, (1_000_000 - age, 1_000_000 - age))  # said[0] is the newest

    done = _python("from pulumi_vigo_vm.dynamic import lastwords; lastwords.install()", logs)

    assert done.returncode == 0, done.stderr
    assert [log.exists() for log in said] == [True] * lastwords.KEEP + [False] * 5


def _gone_pid() -> int:
    """A process id no process has (above ``pid_max``), nor the ids after it."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def test_the_log_directory_follows_the_xdg_rules() -> None:
    home_state = Path.home() / ".local" / "state" / "pulumi-vigo-vm"
    assert lastwords.log_dir({}) == home_state
    assert lastwords.log_dir({"XDG_STATE_HOME": "/srv/state"}) == Path("/srv/state/pulumi-vigo-vm")
    assert lastwords.log_dir({"XDG_STATE_HOME": "relative"}) == home_state, "invalid: ignored"
    assert lastwords.log_dir({lastwords.ENV_DIR: "/x", "XDG_STATE_HOME": "/y"}) == Path("/x")
