"""hostfile's effects on an in-memory host: claims taken, refused and released, installs
that never move over a file that appeared, side files of the operator left alone, and the
sweep of a killed run's temporaries.

Each test here states a rule that a real-part test also proves end to end (named in its
docstring): there, through the engine harness, against libvirtd and real files on
qemu:///system; here, case by case in milliseconds, on
:class:`~pulumi_vigo_vm.hosts.memory.MemoryHost` (no root, no libvirtd). That the real
hosts do the file operations these rules are built from (exclusive renames, listings,
stat over SFTP) is tests/ssh/test_host_behaviour.py's, on LocalHost and SshHost.
"""

from __future__ import annotations

import time

import pytest

from pulumi_vigo_vm.errors import NotOwnedError
from pulumi_vigo_vm.hostfile.claim import FileOwner, claim_path, encode_claim
from pulumi_vigo_vm.hostfile.ops import install, release, sweep_temporaries, take
from pulumi_vigo_vm.hostfile.side import remove_side, write_side
from pulumi_vigo_vm.hosts.memory import MemoryHost

OURS = "org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoDisk::data"
OTHER = "org/urn:pulumi:prod::p::pulumi-python:dynamic/vigo:VigoDisk::data"
PATH = "/var/lib/vigo/disks/data.qcow2"
HOUR = 3600.0


def test_a_file_no_claim_of_ours_names_is_refused_and_left_intact() -> None:
    """Real part: tests/disks/test_disk_lifecycle.py::
    test_a_file_already_at_the_path_that_is_not_ours_is_refused_and_left_intact."""
    for sidecar in (None, OTHER):
        host = MemoryHost()
        host.put(PATH, b"somebody's data")
        if sidecar is not None:
            host.put(claim_path(PATH), encode_claim(sidecar))
        before = host.paths()
        with pytest.raises(NotOwnedError, match=r"never adopted or removed.*choose another path"):
            take(host, PATH, OURS, "path")
        assert host.paths() == before
        assert host.read(PATH) == b"somebody's data"


def test_another_resources_sidecar_without_its_file_is_refused_naming_that_owner() -> None:
    """Real part: tests/disks/test_disk_lifecycle.py::
    test_two_stacks_creating_one_disk_at_once_exactly_one_wins_and_the_loser_makes_nothing."""
    host = MemoryHost()
    host.put(claim_path(PATH), encode_claim(OTHER))
    with pytest.raises(NotOwnedError, match=rf"names another owner \({OTHER}\)"):
        take(host, PATH, OURS, "path")
    assert host.paths() == [claim_path(PATH)]


def test_a_crashed_creates_claim_is_taken_up_and_its_file_adopted() -> None:
    """Real part: tests/disks/test_disk_lifecycle.py::
    test_a_killed_creates_leftovers_are_swept_and_its_claim_taken_up."""
    host = MemoryHost()
    host.put(claim_path(PATH), encode_claim(OURS))
    assert take(host, PATH, OURS, "path") is FileOwner.FREE
    host.put(PATH, b"disk")
    assert take(host, PATH, OURS, "path") is FileOwner.OURS
    assert host.paths() == [PATH, claim_path(PATH)]


def test_a_claim_that_lands_first_while_ours_is_written_wins_and_ours_touches_nothing() -> None:
    """Of two resources racing for one path, the one whose sidecar lands first has it: the
    other, which read "free" a moment before, is refused and leaves nothing. Real part:
    tests/disks/test_disk_lifecycle.py::
    test_two_stacks_creating_one_disk_at_once_exactly_one_wins_and_the_loser_makes_nothing."""

    class Racing(MemoryHost):
        def write_atomic(self, path: str, data: bytes, mode: int) -> None:
            super().write_atomic(path, data, mode)
            if path.startswith("/var/lib/vigo/disks/.data.qcow2.claim."):
                self.put(claim_path(PATH), encode_claim(OTHER))  # the other one's, first

    host = Racing()
    with pytest.raises(NotOwnedError, match=rf"names another owner \({OTHER}\)"):
        take(host, PATH, OURS, "path")
    assert host.paths() == [claim_path(PATH)], "the loser left no temporary"
    assert host.read(claim_path(PATH)) == encode_claim(OTHER)


def test_a_failed_create_releases_its_own_sidecar_and_never_a_file() -> None:
    """Real part: tests/baseimage/test_acttime.py::
    test_a_file_that_appears_at_the_path_during_the_download_survives_the_failed_create."""
    host = MemoryHost()
    take(host, PATH, OURS, "path")
    host.put(PATH, b"appeared meanwhile")
    release(host, PATH, OURS)
    assert host.paths() == [PATH] and host.read(PATH) == b"appeared meanwhile"

    host.put(claim_path(PATH), encode_claim(OTHER))
    release(host, PATH, OURS)
    assert host.read(claim_path(PATH)) == encode_claim(OTHER), "another's sidecar stays"


def test_an_install_never_moves_over_a_file_that_appeared_and_leaves_no_temporary() -> None:
    """Real part: tests/baseimage/test_acttime.py::
    test_a_file_that_appears_at_the_path_during_the_download_survives_the_failed_create."""
    host = MemoryHost()
    host.makedirs("/v")

    def build(temporary: str) -> None:
        host.put(temporary, b"ours")
        host.put("/v/base.qcow2", b"theirs")  # another run, while ours was being built

    with pytest.raises(NotOwnedError, match="appeared while it was being created"):
        install(host, "/v/base.qcow2", build, 0o644)
    assert host.paths() == ["/v/base.qcow2"] and host.read("/v/base.qcow2") == b"theirs"

    install(host, "/v/other.qcow2", lambda temporary: host.put(temporary, b"ours"), 0o640)
    installed = host.stat("/v/other.qcow2")
    assert installed is not None and installed.mode == 0o640


def test_an_operators_side_file_is_never_written_over_nor_removed() -> None:
    """Real part: tests/baseimage/test_acttime.py::
    test_an_operators_checksum_file_survives_create_and_destroy."""
    host = MemoryHost()
    record = "/v/base.qcow2.sha256"
    host.put(record, b"deadbeef  base.qcow2\n")

    def ours(data: bytes) -> bool:
        return data.startswith(b"vigo ")

    with pytest.raises(NotOwnedError, match=r"not a file of ours.*left alone: fix it"):
        write_side(host, record, b"vigo 1\n", 0o644, ours, "fix it")
    assert remove_side(host, record, ours) is False
    assert host.paths() == [record] and host.read(record) == b"deadbeef  base.qcow2\n"

    host.remove(record)
    write_side(host, record, b"vigo 1\n", 0o644, ours, "fix it")
    write_side(host, record, b"vigo 2\n", 0o644, ours, "fix it")  # ours: replaced
    assert host.read(record) == b"vigo 2\n"
    assert remove_side(host, record, ours) is True
    assert host.paths() == []


def test_a_killed_runs_old_temporaries_are_swept_and_nothing_else() -> None:
    """Real parts: tests/disks/test_disk_lifecycle.py::
    test_a_killed_creates_leftovers_are_swept_and_its_claim_taken_up and
    tests/baseimage/test_download.py::test_temporaries_left_by_a_killed_download_are_swept."""
    host = MemoryHost()
    old = time.time() - 2 * HOUR
    stale = "/var/lib/vigo/disks/.data.qcow2.0123456789ab.tmp"
    stale_claim = "/var/lib/vigo/disks/.data.qcow2.claim.0123456789ab.tmp"
    nested = "/var/lib/vigo/disks/..data.qcow2.0123456789ab.tmp.ba9876543210.tmp"
    fresh = "/var/lib/vigo/disks/.data.qcow2.fedcba987654.tmp"  # a live run still writing
    unrelated = "/var/lib/vigo/disks/.other.qcow2.0123456789ab.tmp"
    planted = "/var/lib/vigo/disks/.data.qcow2.aaaaaaaaaaaa.tmp"  # a FIFO: not a file of ours
    for leftover in (stale, stale_claim, nested, fresh, unrelated):
        host.put(leftover, b"half")
    host.put_special(planted)
    for leftover in (stale, stale_claim, nested, unrelated, planted):
        host.set_mtime(leftover, old)

    swept = sweep_temporaries(host, PATH)

    assert sorted(swept) == sorted([stale, stale_claim, nested])
    assert host.paths() == sorted([fresh, unrelated, planted])
