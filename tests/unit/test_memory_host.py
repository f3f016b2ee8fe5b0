"""MemoryHost answers as the real hosts do for what effect logic observes: bytes, modes,
ids kept across renames and shared by hard links, exclusive renames, and special files
that are never read. The real hosts' own behaviour is tests/ssh/test_host_behaviour.py's
(LocalHost and SshHost); these assertions are the same ones, so a drift of the fake from
them fails here before it can make an effect test pass wrongly."""

from __future__ import annotations

import re
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from pulumi_vigo_vm.common.tempnames import stale_temporaries
from pulumi_vigo_vm.errors import HostError, NotRegularFileError
from pulumi_vigo_vm.hosts.base import Host, read_bounded
from pulumi_vigo_vm.hosts.memory import MemoryHost


def test_it_is_a_host() -> None:
    host: Host = MemoryHost()  # mypy holds it to the protocol
    assert host.name == "memory"


def test_commands_are_refused_naming_the_command_and_where_to_test_it() -> None:
    with pytest.raises(HostError, match=r"runs no commands.*qemu-img.*LocalHost or SshHost"):
        MemoryHost().run(["qemu-img", "info", "/x"])


def test_stat_listdir_and_makedirs() -> None:
    host = MemoryHost()
    host.makedirs("/v/a/b", 0o750)
    host.makedirs("/v/a/b/")
    host.put("/v/a/f", b"x" * 1234, 0o640)
    st = host.stat("/v/a/f")
    assert st is not None and (st.size, st.mode, st.is_file) == (1234, 0o640, True)
    directory = host.stat("/v/a/b")
    assert directory is not None and (directory.mode, directory.is_file) == (0o750, False)
    assert host.stat("/v/missing") is None
    assert sorted(host.listdir("/v/a")) == ["b", "f"]
    assert host.listdir("/v/missing") == []
    with pytest.raises(FileExistsError):
        host.makedirs("/v/a/f")
    with pytest.raises(NotADirectoryError):
        host.makedirs("/v/a/f/sub")


def test_atomic_writes_land_whole_under_the_shared_temporary_name_or_not_at_all() -> None:
    host = MemoryHost()
    host.makedirs("/v")
    with host.open_atomic_writer("/v/web01.qcow2", 0o600) as out:
        out.write(b"x")
        (building,) = host.listdir("/v")
        assert host.stat("/v/web01.qcow2") is None  # readers never see a partial file
    assert re.fullmatch(r"\.web01\.qcow2\.[0-9a-f]{12}\.tmp", building)
    assert stale_temporaries("/v", ["web01.qcow2"], {building: 0.0}, now=1e9)
    assert host.read("/v/web01.qcow2") == b"x"

    with pytest.raises(KeyError), host.open_atomic_writer("/v/web01.qcow2", 0o644) as out:
        out.write(b"partial")
        raise KeyError
    assert host.read("/v/web01.qcow2") == b"x"
    assert host.paths() == ["/v/web01.qcow2"]
    with pytest.raises(FileNotFoundError):
        host.write_atomic("/missing/f", b"x", 0o644)


def test_ids_follow_the_file_across_renames_and_hard_links() -> None:
    host = MemoryHost()
    host.put("/v/a", b"1")
    host.put("/v/b", b"2")
    before = host.file_ids(["/v/a", "/v/b", "/v/none"])
    assert set(before) == {"/v/a", "/v/b"} and before["/v/a"] != before["/v/b"]
    host.rename("/v/a", "/v/c")
    host.link("/v/c", "/v/d")
    after = host.file_ids(["/v/c", "/v/d"])
    assert after["/v/c"] == after["/v/d"] == before["/v/a"]


def test_rename_noreplace_refuses_an_existing_destination_and_has_one_winner() -> None:
    host = MemoryHost()
    host.put("/v/src", b"mine")
    host.put("/v/dst", b"theirs")
    with pytest.raises(FileExistsError):
        host.rename_noreplace("/v/src", "/v/dst")
    assert (host.read("/v/src"), host.read("/v/dst")) == (b"mine", b"theirs")
    with pytest.raises(FileNotFoundError):
        host.rename_noreplace("/v/missing", "/v/other")

    sources = [f"/v/s{i}" for i in range(8)]
    for i, src in enumerate(sources):
        host.put(src, str(i).encode())

    def claim(src: str) -> bool:
        try:
            host.rename_noreplace(src, "/v/won")
        except FileExistsError:
            return False
        return True

    with ThreadPoolExecutor(len(sources)) as pool:
        assert list(pool.map(claim, sources)).count(True) == 1


def test_a_special_file_is_never_read_and_remove_says_whether_a_file_was_there() -> None:
    host = MemoryHost()
    host.put_special("/v/fifo")
    fifo = host.stat("/v/fifo")
    assert fifo is not None and fifo.is_file is False
    with pytest.raises(NotRegularFileError, match="FIFO"):
        read_bounded(host, "/v/fifo", 10)
    host.put_special("/v/sock", stat.S_IFSOCK)
    with pytest.raises(NotRegularFileError, match="socket"):
        read_bounded(host, "/v/sock", 10)
    host.put("/v/f", bytes(range(10)))
    assert read_bounded(host, "/v/f", 4, offset=3) == bytes([3, 4, 5, 6])
    assert host.remove("/v/f") is True
    assert host.remove("/v/f") is False
