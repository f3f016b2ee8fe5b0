"""console: cloud-init's story of the current boot, read from an untrusted serial log.

The samples in ``data/console`` are modelled on logs this machine kind's e2e guests wrote
(Debian 12, cloud-init 22.4.2, systemd 252): journald's ``[ t] cloud-init[pid]:`` prefixes,
CR CR LF after systemd's coloured status lines, unit names ellipsised through escapes, a
getty prompt sharing a line with a stage line.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.bounded import first_over

from pulumi_vigo_vm.vm.guest.addresses import Source, choose
from pulumi_vigo_vm.vm.guest.console import (
    MAX_CONSOLE_BYTES,
    MAX_CONSOLE_LINES,
    MAX_LINE_CHARS,
    ConsoleReading,
    LogFile,
    LogMark,
    boot_slice,
    clean_text,
    describe_progress,
    read_console,
    ready_marker,
)

DATA = Path(__file__).parent / "data" / "console"
MAC = "52:54:00:be:c1:b1"
IID = "web01-1a2b3c4d"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_only_the_current_boot_counts() -> None:
    reading = read_console(sample("two-boots.log"), IID)
    assert reading.boot_found
    assert reading.addresses == ((MAC, ("192.168.122.57",)),)
    assert reading.stage == "modules:final"
    assert reading.finished and reading.finished_by == "final_message"
    assert reading.instance_id_seen is None


def test_the_address_feeds_choose() -> None:
    reading = read_console(sample("two-boots.log"), IID)
    chosen = choose([MAC.upper()], {Source.CONSOLE: reading.by_mac()})
    assert chosen.ip_address == "192.168.122.57"
    assert chosen.sources == (Source.CONSOLE,)


def test_overridden_final_message_our_marker_says_ready() -> None:
    data = sample("final-message-overridden.log")
    reading = read_console(data, IID)
    assert reading.finished and reading.finished_by == "marker"
    assert reading.instance_id_seen == IID
    # the earlier VM's marker (another instance-id) is in the log, but not in this boot
    assert b"instance-id=web01-00000000" in data


def test_a_marker_for_another_instance_is_not_ready() -> None:
    reading = read_console(sample("final-message-overridden.log"), "web01-ffffffff")
    assert not reading.finished
    assert reading.instance_id_seen == IID
    assert not read_console(sample("final-message-overridden.log"), None).finished


def test_marker_must_be_exact() -> None:
    def log(*lines: str) -> bytes:
        banner = "[    0.000000] Linux version 6.1.0 (x) #1\r\n"
        return (banner + "".join(line + "\r\n" for line in lines)).encode()

    assert read_console(log(ready_marker(IID)), IID).finished
    assert read_console(log("[  1.0] cloud-init[1]: " + ready_marker(IID)), IID).finished
    assert not read_console(log(ready_marker(IID) + "0"), IID).finished
    assert not read_console(log(ready_marker(IID) + " and more"), IID).finished
    assert not read_console(log("echo" + ready_marker(IID)), IID).finished
    assert not read_console(log(ready_marker(IID[:-1])), IID).finished


def test_systemd_finished_cloud_final_says_ready() -> None:
    reading = read_console(sample("systemd-finished.log"), IID)
    assert reading.finished and reading.finished_by == "systemd"
    assert reading.addresses == ((MAC, ("10.20.0.5",)),)


def test_systemd_line_variants() -> None:
    banner = b"[    0.000000] Linux version 6.1.0 (x) #1\n"
    for line, finished in [
        ("[  OK  ] Finished cloud-final.service - Execute cloud user/final scripts.", True),
        ("[  OK  ] Finished Execute cloud user/final scripts.", True),
        ("[  OK  ] Finished cloud-final.service - Cloud-init: Final Stage.", True),
        ("[   12.5] systemd[1]: Finished cloud-final.service - Execute cloud user/final.", True),
        ("[  OK  ] Stopped cloud-final.service - Execute cloud user/final scripts.", False),
        ("[  OK  ] Finished cloud-init.service - Cloud-init: Network Stage.", False),
    ]:
        assert read_console(banner + line.encode() + b"\n", IID).finished is finished, line
    failed = b"[FAILED] Failed to start cloud-final.service - Execute cloud user/final scripts.\n"
    reading = read_console(banner + failed, IID)
    assert reading.final_failed and not reading.finished


def test_in_progress_boot_with_link_local_only_long_and_partial_lines() -> None:
    reading = read_console(sample("in-progress.log"), IID)
    assert reading.boot_found
    assert reading.stage == "modules:config"
    assert reading.table_seen and not reading.has_address
    assert reading.addresses == ((MAC, ()),)
    # the long lines hold a marker and a final message, the last line is unfinished
    assert not reading.finished
    assert reading.instance_id_seen is None


def test_seabios_banner_starts_a_boot() -> None:
    reading = read_console(sample("seabios-new-boot.log"), IID)
    assert reading.boot_found
    assert reading == ConsoleReading(boot_found=True)


def test_binary_garbage() -> None:
    reading = read_console(sample("garbage.bin"), IID)
    assert not reading.finished
    assert not reading.has_address


def test_no_boundary_reads_everything() -> None:
    data = b"Cloud-init v. 23.1 running 'init' at now. Up 1 seconds.\n"
    reading = read_console(data, None)
    assert reading.stage == "init" and not reading.boot_found


def test_proc_version_is_not_a_boot_boundary() -> None:
    log = (
        b"[    0.000000] Linux version 6.1.0 (x) #1\r\n"
        b"Cloud-init v. 22.4.2 running 'modules:final' at x. Up 2 seconds.\r\n"
        b"Linux version 6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\r\n"
    )
    assert read_console(log, IID).stage == "modules:final"


def test_ansi_and_carriage_returns_are_stripped() -> None:
    assert clean_text(b"\x1b[0;32m  OK  \x1b[0m] x\r\r\n\x1bM\r\x1b[K[a\x1b[\xe2\x80\xa6b]\n") == [
        "  OK  ] x",
        "[a\u2026b]",
    ]


def test_a_window_is_bounded_and_begins_at_a_whole_line() -> None:
    old = b"[    0.000000] Linux version 6.1.0 (x) #1\nCloud-init v. 1 finished at x\n"
    filler = (b"k" * 1000 + b"\n") * (MAX_CONSOLE_BYTES // 1001 + 10)
    reading = read_console(old + filler, IID)
    assert not reading.finished and not reading.boot_found


def test_a_line_longer_than_the_bound_is_ignored() -> None:
    banner = b"[    0.000000] Linux version 6.1.0 (x) #1\n"
    pad = b" " * (MAX_LINE_CHARS + 1)
    assert not read_console(banner + pad + ready_marker(IID).encode() + b"\n", IID).finished
    assert read_console(banner + ready_marker(IID).encode() + b"\n", IID).finished


def test_describe_progress_quotes_no_console_text() -> None:
    secret = "hunter2-SECRET"
    log = (
        "[    0.000000] Linux version 6.1.0 (x) #1\n"
        f"Cloud-init v. 22.4.2 running 'modules:config' at {secret}. Up 1 seconds.\n"
        f"echo {secret}\n"
    ).encode()
    reading = read_console(log, IID)
    text = describe_progress(reading)
    assert secret not in text
    assert "modules:config" in text and "no address" in text
    two = describe_progress(read_console(sample("two-boots.log"), IID))
    assert "modules:final" in two and "an address appeared" in two and "finished" in two
    assert "192.168" not in two
    assert "no cloud-init stage" in describe_progress(ConsoleReading())
    link_only = describe_progress(read_console(sample("in-progress.log"), IID))
    assert "no usable address" in link_only


def test_stage_names_are_a_closed_grammar() -> None:
    banner = b"[    0.000000] Linux version 6.1.0 (x) #1\n"
    hostile = b"Cloud-init v. 1 running 'init; my password is x' at now\n"
    assert read_console(banner + hostile, None).stage is None


# -- boot_slice: virtlogd rotation --------------------------------------------------------


def test_boot_slice_same_file() -> None:
    log = b"old boot\nnew boot\n"
    mark = LogMark(offset=9, inode=7)
    assert boot_slice(mark, LogFile(size=len(log), tail=log, inode=7)) == b"new boot\n"
    # the tail read is shorter than the file: offsets are in the whole file
    assert boot_slice(mark, LogFile(size=len(log), tail=log[-5:], inode=7)) == b"boot\n"
    assert boot_slice(LogMark(offset=9), LogFile(size=len(log), tail=log)) == b"new boot\n"


def test_boot_slice_across_rotation() -> None:
    rotated = b"old boot\nnew boot begins\n"
    current = b"goes on\n"
    mark = LogMark(offset=9, inode=7)
    got = boot_slice(
        mark, LogFile(len(current), current, inode=8), LogFile(len(rotated), rotated, inode=7)
    )
    assert got == b"new boot begins\ngoes on\n"
    # without inodes a shrunken file means it rotated
    got = boot_slice(
        LogMark(offset=9), LogFile(len(current), current), LogFile(len(rotated), rotated)
    )
    assert got == b"new boot begins\ngoes on\n"
    # the new file regrew past the mark: with inodes known it is still seen as rotated
    grown = b"goes on\n" * 3
    got = boot_slice(
        mark, LogFile(len(grown), grown, inode=8), LogFile(len(rotated), rotated, inode=7)
    )
    assert got == b"new boot begins\n" + grown


def test_boot_slice_rotated_twice_or_replaced() -> None:
    rotated = b"all of this boot\n"
    current = b"still this boot\n"
    mark = LogMark(offset=1000, inode=5)
    got = boot_slice(
        mark, LogFile(len(current), current, inode=9), LogFile(len(rotated), rotated, inode=8)
    )
    assert got == rotated + current
    assert boot_slice(mark, LogFile(len(current), current, inode=9)) == current


def test_boot_slice_is_bounded() -> None:
    big = b"x" * (MAX_CONSOLE_BYTES + 10)
    got = boot_slice(LogMark(offset=0), LogFile(len(big), big), LogFile(len(big), big))
    assert len(got) == MAX_CONSOLE_BYTES


# -- properties -------------------------------------------------------------------------

FRAGMENTS = [
    b"[    0.000000] Linux version 6.1.0 (x) #1\r\n",
    b"SeaBIOS (version 1.16)\n",
    b"ci-info: +++++Net device info+++++\n",
    b"ci-info: | ens2 | True | 10.0.0.5 | 255.0.0.0 | global | 52:54:00:be:c1:b1 |\n",
    b"ci-info: | ens2 | True | fe80::1/64 | . | link | 52:54:00:be:c1:b1 |\n",
    b"Cloud-init v. 22.4.2 running 'init' at x. Up 1 seconds.\n",
    b"Cloud-init v. 22.4.2 finished at x.\n",
    b"vigo-ready instance-id=web01-1a2b3c4d\n",
    b"[  OK  ] Finished cloud-final.service - x\n",
    b"\x1b[0;1;39m",
    b"\x1b[",
    b"\r",
    b"\xff\xfe",
    b"|",
]


@settings(max_examples=300)
@given(
    st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(FRAGMENTS)), max_size=40),
    st.one_of(st.none(), st.text(max_size=30)),
)
def test_read_console_never_raises(parts: list[bytes], instance_id: str | None) -> None:
    reading = read_console(b"".join(parts), instance_id)
    describe_progress(reading)
    for mac, found in reading.addresses:
        assert mac == mac.lower()
        for address in found:
            assert not address.startswith(("fe80", "127."))


@given(
    st.integers(min_value=-5, max_value=500),
    st.binary(max_size=300),
    st.integers(min_value=0, max_value=500),
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.none(), st.tuples(st.binary(max_size=300), st.integers(0, 500))),
)
def test_boot_slice_never_raises(
    offset: int,
    tail: bytes,
    size: int,
    inode: int | None,
    rotated: tuple[bytes, int] | None,
) -> None:
    old = None if rotated is None else LogFile(size=rotated[1], tail=rotated[0], inode=inode)
    got = boot_slice(LogMark(offset=offset, inode=inode), LogFile(size, tail, inode=1), old)
    assert len(got) <= MAX_CONSOLE_BYTES
    assert got.endswith(tail) or tail.endswith(got)


def _hostile_consoles() -> list[tuple[str, bytes]]:
    """Consoles a guest can print to make a look slow, each the full window."""

    def filling(line: bytes) -> bytes:
        return line * (MAX_CONSOLE_BYTES // len(line))

    title_run = b"[  1.0] cloud-init[1]: ci-info: " + b"+" * (MAX_LINE_CHARS - 40) + b"x\n"
    return [
        ("ci-info title runs", filling(title_run)),
        ("ci-info title run, one 4 MiB line", b"ci-info: " + b"+" * MAX_CONSOLE_BYTES + b"x\n"),
        ("escapes", filling(b"\x1b[0;1;39m" * 400 + b"\n")),
        ("empty lines", filling(b"\n")),
        ("keyword lines", filling(b"Finished Cloud-init v. \n")),
        ("table rows", filling(f"ci-info: | e | True | 198.18.0.9 | . | . | {MAC} |\n".encode())),
    ]


def test_a_hostile_console_is_read_in_a_bounded_time() -> None:
    """Each look at the largest console a guest can write takes well under a second here;
    the bound is generous for a shared machine (before: half an hour for the first)."""
    consoles = _hostile_consoles()
    calls = [partial(read_console, data, IID) for _, data in consoles]
    slow = first_over(5.0, calls)
    assert slow is None, f"reading a console of {consoles[slow][0]} took over 5 s"


def test_a_console_of_many_short_lines_is_read_from_its_last_lines() -> None:
    banner = b"[    0.000000] Linux version 6.1.0 (x) #1\n"
    marker = ready_marker(IID).encode() + b"\n"
    assert read_console(banner + marker + b"\n" * (MAX_CONSOLE_LINES - 1), IID).finished
    assert not read_console(banner + marker + b"\n" * MAX_CONSOLE_LINES, IID).finished
