"""Every Host method, asserted once and run against LocalHost and SshHost on the same paths."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import socket
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pulumi_vigo_vm.common.tempnames import stale_temporaries
from pulumi_vigo_vm.errors import CommandError, CommandTimeoutError, HostError, NotRegularFileError
from pulumi_vigo_vm.hosts import base
from pulumi_vigo_vm.hosts.base import Host

# LocalHost lets OSError through for file-system failures; SshHost translates them into
# HostError once. Callers treat both as "the host could not do it".
HostFailure = (OSError, HostError)


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


# ------------------------------------------------------------------------- run


def test_run_passes_arguments_verbatim_without_a_shell(host: Host, tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    args = ["a b", "'quoted'", '"dq"', "$(touch " + str(marker) + ")", "; rm -rf /", "*", ""]
    result = host.run(["printf", "%s\\n", *args])
    assert result.returncode == 0
    assert result.stdout.split("\n")[:-1] == args
    assert not marker.exists()


def test_run_reports_exit_status_and_stderr(host: Host) -> None:
    result = host.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(CommandError) as info:
        host.run(["sh", "-c", "echo boom >&2; exit 4"])
    assert info.value.returncode == 4
    assert "boom" in info.value.stderr
    assert info.value.host == host.name


def test_run_missing_program_is_a_host_error_naming_it(host: Host) -> None:
    with pytest.raises(HostError) as info:
        host.run(["vigo-no-such-program", "x"], check=False)
    assert not isinstance(info.value, CommandError)
    assert "vigo-no-such-program" in str(info.value)


def test_run_large_output_on_both_streams_does_not_deadlock(host: Host) -> None:
    script = "head -c 3000000 /dev/zero | tr '\\0' o; head -c 3000000 /dev/zero | tr '\\0' e >&2"
    result = host.run(["sh", "-c", script])
    assert len(result.stdout) == 3_000_000
    assert len(result.stderr) == 3_000_000


def test_run_gives_commands_an_empty_stdin(host: Host) -> None:
    assert host.run(["cat"]).stdout == ""


# ------------------------------------------------------------------------- run: timeout


def running(argv: list[str]) -> list[int]:
    """Pids of processes on this machine (where the test sshd runs commands too) with this
    exact command line."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if cmdline.read() == wanted:
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_gone(argv: list[str], within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := running(argv)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_run_timeout_kills_the_command_and_what_it_started(host: Host) -> None:
    token = f"{secrets.randbelow(10**6) + 1000}.5"
    child, command = ["sleep", f"{token}1"], ["sleep", f"{token}2"]
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError) as info:
        host.run(["sh", "-c", f"{shlex.join(child)} & {shlex.join(command)}"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert (info.value.host, info.value.timeout) == (host.name, 0.5)
    assert f"sh -c sleep {token}1 & sleep {token}2 on {host.name}" in str(info.value)
    assert "within 0.5s" in str(info.value)
    assert wait_gone(command) == []
    assert wait_gone(child) == []  # the whole process group, not just the direct child


def test_run_without_a_timeout_gets_the_module_default(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "COMMAND_TIMEOUT", 0.5)
    token = f"{secrets.randbelow(10**6) + 1000}.25"
    with pytest.raises(CommandTimeoutError, match=r"within 0\.5s"):
        host.run(["sleep", token])
    assert wait_gone(["sleep", token]) == []


def test_run_finishing_in_time_is_unaffected(host: Host) -> None:
    result = host.run(["sh", "-c", "sleep 0.2; echo done; exit 3"], check=False, timeout=10)
    assert (result.returncode, result.stdout) == (3, "done\n")


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_run_refuses_a_timeout_that_is_not_positive(host: Host, timeout: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        host.run(["true"], timeout=timeout)


# ------------------------------------------------------------------------- stat, listdir


def test_stat_file_directory_missing_socket_and_symlink(host: Host, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"x" * 1234)
    data.chmod(0o640)
    st = host.stat(str(data))
    assert st is not None
    assert (st.size, st.mode, st.is_file) == (1234, 0o640, True)

    directory = host.stat(str(tmp_path))
    assert directory is not None
    assert directory.is_file is False

    assert host.stat(str(tmp_path / "missing")) is None

    sock_path = tmp_path / "libvirt-sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        sock_stat = host.stat(str(sock_path))
    assert sock_stat is not None
    assert sock_stat.is_file is False

    (tmp_path / "link").symlink_to(data)
    linked = host.stat(str(tmp_path / "link"))
    assert linked is not None
    assert (linked.size, linked.is_file) == (1234, True)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert host.stat(str(tmp_path / "dangling")) is None


def test_listdir(host: Host, tmp_path: Path) -> None:
    for name in ("b", ".hidden", "a b"):
        (tmp_path / name).write_text(name)
    (tmp_path / "sub").mkdir()
    assert sorted(host.listdir(str(tmp_path))) == [".hidden", "a b", "b", "sub"]
    assert host.listdir(str(tmp_path / "missing")) == []
    assert host.listdir(str(tmp_path / "sub")) == []


# ------------------------------------------------------------------------- makedirs, chmod


def test_makedirs_creates_parents_is_idempotent_and_sets_leaf_mode(
    host: Host, tmp_path: Path
) -> None:
    leaf = tmp_path / "a" / "b" / "c"
    host.makedirs(str(leaf), 0o750)
    host.makedirs(str(leaf), 0o750)
    host.makedirs(str(leaf) + "/")
    assert leaf.is_dir()
    assert leaf.stat().st_mode & 0o777 == 0o750
    (tmp_path / "file").write_text("")
    with pytest.raises(HostFailure):
        host.makedirs(str(tmp_path / "file" / "sub"))
    with pytest.raises(HostFailure):
        host.makedirs(str(tmp_path / "file"))


def test_chmod(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("")
    host.chmod(str(target), 0o604)
    assert target.stat().st_mode & 0o777 == 0o604
    with pytest.raises(HostFailure):
        host.chmod(str(tmp_path / "missing"), 0o600)


# ------------------------------------------------------------------------- writing


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o400])
def test_write_atomic_writes_mode_and_replaces(host: Host, tmp_path: Path, mode: int) -> None:
    target = tmp_path / "user-data"
    target.write_bytes(b"old")
    host.write_atomic(str(target), b"new \x00 bytes", mode)
    assert target.read_bytes() == b"new \x00 bytes"
    assert target.stat().st_mode & 0o777 == mode
    assert leftovers(tmp_path) == []


def test_write_atomic_into_missing_directory_fails_cleanly(host: Host, tmp_path: Path) -> None:
    with pytest.raises(HostFailure):
        host.write_atomic(str(tmp_path / "missing" / "f"), b"x", 0o644)


def test_open_atomic_writer_lands_only_on_success(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "disk.img"
    with host.open_atomic_writer(str(target), 0o640) as out:
        for i in range(100):
            out.write(bytes([i]) * 10_000)
        assert not target.exists()  # readers never see a partial file
    assert target.read_bytes() == b"".join(bytes([i]) * 10_000 for i in range(100))
    assert target.stat().st_mode & 0o777 == 0o640

    class Boom(Exception):
        pass

    with pytest.raises(Boom), host.open_atomic_writer(str(target), 0o600) as out:
        out.write(b"partial")
        raise Boom
    assert target.read_bytes()[:1] == b"\x00"  # the earlier file is untouched
    assert leftovers(tmp_path) == []


def test_atomic_writers_build_beside_the_target_under_the_shared_temporary_name(
    host: Host, tmp_path: Path
) -> None:
    # One naming recipe for every host: what common.tempnames.stale_temporaries later recognises.
    target = tmp_path / "web01.qcow2"
    with host.open_atomic_writer(str(target), 0o600) as out:
        out.write(b"x")
        (building,) = leftovers(tmp_path)
    assert re.fullmatch(r"\.web01\.qcow2\.[0-9a-f]{12}\.tmp", building)
    assert stale_temporaries(str(tmp_path), ["web01.qcow2"], {building: 0.0}, now=1e9)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------- reading


def test_read_chunks(host: Host, tmp_path: Path) -> None:
    payload = os.urandom(300_001)
    (tmp_path / "blob").write_bytes(payload)
    chunks = list(host.read_chunks(str(tmp_path / "blob"), chunk_size=65536))
    assert b"".join(chunks) == payload
    assert max(len(c) for c in chunks) <= 65536
    assert list(host.read_chunks(str(tmp_path / "blob"))) == [payload]  # one, 300 KB > 32 KiB
    assert list(host.read_chunks(str(tmp_path / "blob"), offset=300_000)) == [payload[-1:]]
    (tmp_path / "empty").write_bytes(b"")
    assert list(host.read_chunks(str(tmp_path / "empty"))) == []
    # procfs says 0 bytes for a file that has some (the ARP table is read so)
    assert b"".join(host.read_chunks("/proc/version")) == Path("/proc/version").read_bytes()
    # a missing file is told by the read itself, the same way on both hosts
    with pytest.raises(FileNotFoundError):
        list(host.read_chunks(str(tmp_path / "missing")))
    with pytest.raises(FileNotFoundError):
        base.read_bounded(host, str(tmp_path / "missing"), 4096)


def a_block_device() -> str:
    """A block device of this machine (an unattached loop device reads as empty)."""
    for name in sorted(os.listdir("/dev")):
        if name.startswith("loop") and stat.S_ISBLK(os.stat(f"/dev/{name}").st_mode):
            return f"/dev/{name}"
    raise AssertionError("no /dev/loop* block device on this machine")


def test_reads_refuse_a_fifo_or_device_fast_and_before_opening_it(
    host: Host, tmp_path: Path
) -> None:
    """The rule of every reader (read_chunks, hence read_bounded and header reads): a FIFO
    with no writer would block the read (over SFTP: the whole channel) for ever, and a
    character device never ends. Each is refused at once, naming the path and its kind."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(NotRegularFileError, match="is a FIFO, not a regular file") as caught:
        base.read_bounded(host, str(fifo), 4096)
    assert time.monotonic() - started < 10, "a FIFO must be refused, not waited on"
    assert str(fifo) in str(caught.value)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        base.read_bounded(host, str(fifo), 4096, block_device=True)
    for path, kind in ((str(tmp_path), "directory"), ("/dev/zero", "character device")):
        with pytest.raises(NotRegularFileError, match=kind):
            list(host.read_chunks(path))
    link = tmp_path / "link"
    link.symlink_to(fifo)  # a symlink to a FIFO is a FIFO
    with pytest.raises(NotRegularFileError, match="FIFO"):
        base.read_bounded(host, str(link), 4096)
    device = a_block_device()
    with pytest.raises(NotRegularFileError, match="block device"):
        base.read_bounded(host, device, 512)
    assert len(base.read_bounded(host, device, 512, block_device=True)) <= 512
    assert host.stat(str(fifo)) is not None, "refusing a FIFO leaves it as it was"


def test_read_chunks_abandoned_midway_releases_the_file(host: Host, tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"y" * 100_000)
    for _ in range(20):
        stream = host.read_chunks(str(tmp_path / "blob"), chunk_size=1000)
        assert next(stream) == b"y" * 1000
        stream.close()
    assert host.stat(str(tmp_path / "blob")) is not None


# ------------------------------------------------------------------------- remove, rename


def test_remove(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    assert host.remove(str(target)) is True
    assert not target.exists()
    assert host.remove(str(target)) is False


def test_rename_replaces_destination(host: Host, tmp_path: Path) -> None:
    (tmp_path / "src").write_text("new")
    (tmp_path / "dst").write_text("old")
    host.rename(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_text() == "new"
    assert not (tmp_path / "src").exists()
    with pytest.raises(HostFailure):
        host.rename(str(tmp_path / "src"), str(tmp_path / "other"))


def test_rename_noreplace_moves_when_the_destination_is_absent(host: Host, tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"overlay")
    host.rename_noreplace(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "dst").read_bytes() == b"overlay"
    assert not (tmp_path / "src").exists()


def test_rename_noreplace_refuses_an_existing_destination(host: Host, tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"mine")
    (tmp_path / "dst").write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        host.rename_noreplace(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert (tmp_path / "src").read_bytes() == b"mine"  # left for the caller to remove
    assert (tmp_path / "dst").read_bytes() == b"theirs"
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_rename_noreplace_of_a_missing_source_is_not_file_exists(
    host: Host, tmp_path: Path
) -> None:
    (tmp_path / "dst").write_bytes(b"theirs")
    with pytest.raises(HostFailure) as info:
        host.rename_noreplace(str(tmp_path / "missing"), str(tmp_path / "dst"))
    assert not isinstance(info.value, FileExistsError)
    assert (tmp_path / "dst").read_bytes() == b"theirs"


def test_rename_noreplace_race_has_exactly_one_winner(host: Host, tmp_path: Path) -> None:
    sources = [tmp_path / f"src{i}" for i in range(8)]
    for i, src in enumerate(sources):
        src.write_text(str(i))

    def claim(src: Path) -> bool:
        try:
            host.rename_noreplace(str(src), str(tmp_path / "dst"))
        except FileExistsError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        won = list(pool.map(claim, sources))
    assert won.count(True) == 1
    winner = won.index(True)
    assert (tmp_path / "dst").read_text() == str(winner)
    assert [src.exists() for src in sources] == [i != winner for i in range(len(sources))]
