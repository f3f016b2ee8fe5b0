"""Reading cloud-init's story of the current boot from a serial console log (fleet spec §2).

The serial console is the one address and readiness source that needs neither a libvirt
network nor the guest agent: cloud-init prints a ``ci-info`` table of the guest's devices
and a line per stage. It is also written by the guest, so everything here treats it as
hostile: reads are bounded (:data:`MAX_CONSOLE_BYTES`, :data:`MAX_CONSOLE_LINES`,
:data:`MAX_LINE_CHARS`), bytes are
decoded with ``errors="replace"``, escapes and control characters are removed, addresses
are validated by :func:`pulumi_vigo_vm.vm.guest.addresses.parse_ip`, and no input makes it raise.
Every regular expression here is linear on any input (no two unbounded quantifiers that can
match the same text, nested or adjacent), is listed in :data:`GUEST_PATTERNS`, and is
applied only to lines already cut to :data:`MAX_LINE_CHARS`: a crafted line costs
microseconds, never the seconds of backtracking that would stall the provider (which holds
the GIL while a pattern runs). ``tests/unit/test_guest_patterns.py`` feeds each registered
pattern adversarial input under a time bound.

What the console looks like (cloud-init 22.4.2 on Debian 12, captured on this machine kind
and checked against cloud-init's source):

- Every stage starts with ``Cloud-init v. 22.4.2 running 'init-local' at <rfc2822>. Up
  78.51 seconds.`` (``WELCOME_MSG_TPL`` in ``cloudinit/cmd/main.py``); the stages are
  ``init-local``, ``init``, ``modules:config``, ``modules:final``.
- The ``init`` stage prints ``ci-info: +++…Net device info+++…`` and a table of
  ``| Device | Up | Address | Mask | Scope | Hw-Address |`` rows, cells centred, ``.`` for
  empty (``netdev_pformat`` in ``cloudinit/netinfo.py``, ``cloudinit/simpletable.py``).
  IPv4 rows carry the bare address and a dotted mask, IPv6 rows ``addr/prefix``. It can
  print before DHCP is done (often only ``fe80::…/64``), so a table without a usable
  address is "no address yet", and a later table for the same MAC replaces an earlier one.
- The default final message is ``Cloud-init v. <ver> finished at <ts>. Datasource <ds>.  Up
  <n> seconds`` (``FINAL_MESSAGE_DEF`` in ``cloudinit/config/cc_final_message.py``);
  user-data's ``final_message`` replaces it, which is why readiness also accepts our own
  marker (:func:`ready_marker`) and systemd's ``Finished`` line for ``cloud-final.service``
  (description ``Execute cloud user/final scripts`` in 22.4, ``Cloud-init: Final Stage``
  in later releases; ``systemd/cloud-final.service*``).
- Lines arrive through journald with a prefix, ``[  103.026073] cloud-init[290]: ci-info:
  …``, and may share a line with a getty prompt (``web01 login: [  127.03] cloud-init[389]:
  Cloud-init v. …``), so patterns are searched for inside a line, not anchored to its start.
  systemd's status lines are coloured and, on a narrow console, ellipsised through the
  middle of an escape sequence (``Finished \\x1b[0;1;39mcloud-final.servic… Execute …``).
- cloud-init does not print the instance-id on the console at its default log level
  (``will now be targeting instance id: …`` is a DEBUG message), so ``instance_id_seen``
  mostly comes from our marker.

Only the current boot counts: libvirt appends the console log across boots and across VMs
that reused the name. A boot starts at SeaBIOS's banner (``SeaBIOS (version …``, on the
serial line only with ``<bios useserial='yes'/>``) or at the kernel's first message,
``[    0.000000] Linux version …`` (what actually marks boots on this machine kind, where
the log of a boot begins with SYSLINUX's banner and then the kernel's). A bare ``Linux
version`` line without the zero timestamp is not a boundary: ``cat /proc/version`` in a
user-data script prints exactly that text. :func:`read_console` reads from the last
boundary; :func:`boot_slice` first cuts the log at the offset the provider recorded when it
started the guest, across virtlogd's rotation.

Pure: no I/O. The caller reads the file(s) and passes bytes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from pulumi_vigo_vm.vm.guest.addresses import normalize_mac, parse_ip

__all__ = [
    "GUEST_PATTERNS",
    "MAX_CONSOLE_BYTES",
    "MAX_CONSOLE_LINES",
    "MAX_LINE_CHARS",
    "READY_MARKER_PREFIX",
    "ConsoleReading",
    "LogFile",
    "LogMark",
    "boot_slice",
    "clean_text",
    "describe_progress",
    "read_console",
    "ready_marker",
]

MAX_CONSOLE_BYTES: Final = 4 * 1024 * 1024
"""The most of a console log ever looked at: twice virtlogd's 2 MiB rotation size, which
holds a whole cloud-init boot many times over (the boots captured here are ~60 KiB)."""

MAX_CONSOLE_LINES: Final = 32768
"""The most lines of a console log ever looked at: a cloud-init boot prints ~1000; a guest
printing millions of short lines must not make each look cost seconds of Python."""

MAX_LINE_CHARS: Final = 4096
"""A longer line is ignored: cloud-init's lines are < 300 characters; a longer one is a
script's output or an attack on the parser."""

READY_MARKER_PREFIX: Final = "vigo-ready instance-id="

_CSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
"""A complete ANSI control sequence (colours, ``\\x1b[K``)."""
_ESCAPE_REST: Final = re.compile(r"\x1b(?:\[[0-?]*[ -/]*)?[@-_]?")
"""What is left of an escape: systemd ellipsises through them (``\\x1b[…``), and two-byte
escapes like ``\\x1bM``."""
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters but tab and newline (carriage returns included)."""

_BOUNDARY: Final = re.compile(r"^(?:SeaBIOS \(version |\[\s*0\.0+\] Linux version )")
_STAGE: Final = re.compile(r"Cloud-init v\. \S{1,40} running '([a-z][a-z:-]{0,31})' at ")
_FINAL_MESSAGE: Final = re.compile(r"Cloud-init v\. \S{1,40} finished at ")
_FINAL_UNIT: Final = r"(?:cloud-fina|.{0,60}?(?:user/final scripts|Final Stage))"
"""cloud-final.service as a status line names it: by unit and description
(``cloud-final.service - Execute …``, as Debian 12's systemd 252 prints it), by description
alone (older systemd; cloud-init 22.4 and later releases word it differently),
or ellipsised through the middle, which keeps the unit name's first ten characters or the
description's last words."""
_FINAL_DONE: Final = re.compile(
    r"\[\s*OK\s*\] Finished " + _FINAL_UNIT + r"|: Finished cloud-final\.service"
)
_FINAL_FAILED: Final = re.compile(r"\[\s*FAILED\s*\] Failed to start " + _FINAL_UNIT)
_MARKER: Final = re.compile(r"(?:^|\s)" + re.escape(READY_MARKER_PREFIX) + r"(\S{1,253})$")
_TARGETING: Final = re.compile(r"will now be targeting instance id: (\S{1,253})\. new=")
_CI_INFO: Final = "ci-info: "
_TABLE_HEADER: Final = re.compile(r"\|\s*Device\s*\|\s*Up\s*\|")
_KEYWORDS: Final = (
    "Cloud-init v. ",
    READY_MARKER_PREFIX,
    "targeting instance id",
    "Finished",
    "Failed to start",
)
"""Words every line the patterns below look for contains: a line with none of them is
passed over by substring tests, so a console of millions of short lines costs little."""
_TITLE_RULE: Final = "+!"
"""A ``ci-info`` table title is centred between runs of these (``!`` when it failed)."""

GUEST_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    _CSI,
    _ESCAPE_REST,
    _CONTROL,
    _BOUNDARY,
    _STAGE,
    _FINAL_MESSAGE,
    _FINAL_DONE,
    _FINAL_FAILED,
    _MARKER,
    _TARGETING,
    _TABLE_HEADER,
)
"""Every pattern this module applies to console text: registered here so the linearity
test (``tests/unit/test_guest_patterns.py``) sees each one, a new one included."""


def ready_marker(instance_id: str) -> str:
    """The line the guest prints when cloud-init's final stage is done for ``instance_id``.

    cloud-init's own "finished at" line is its ``final_message``, which user-data may
    override, so the seed adds this line too (e.g. from a final-stage ``runcmd`` or as the
    ``final_message``). It names the instance-id because the log also holds the boots of
    earlier VMs of the same name: only a marker for *this* seed means this VM is ready.
    """
    return f"{READY_MARKER_PREFIX}{instance_id}"


@dataclass(frozen=True)
class ConsoleReading:
    """What the current boot's console says, validated.

    ``addresses`` pairs each MAC (lower-case) with its usable addresses from the last
    ``ci-info`` table that listed it, in table order; ``table_seen`` says a table was
    printed at all (it may hold only link-local addresses). ``stage`` is the last
    cloud-init stage that started. ``finished`` says cloud-init's final stage is done on
    this boot, ``finished_by`` how that was seen: ``"marker"`` (our :func:`ready_marker`
    for the given instance-id), ``"final_message"`` (cloud-init's default one) or
    ``"systemd"`` (``Finished cloud-final.service``). ``final_failed`` says systemd reported
    ``cloud-final.service`` failed. ``instance_id_seen`` is the last instance-id the console
    named (from a marker, ours or not, or cloud-init's debug log). ``boot_found`` says a boot
    boundary was in the data; without one all of it was read.
    """

    addresses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    table_seen: bool = False
    stage: str | None = None
    finished: bool = False
    finished_by: str | None = None
    final_failed: bool = False
    instance_id_seen: str | None = None
    boot_found: bool = False

    def by_mac(self) -> dict[str, list[str]]:
        """``addresses`` as the table :func:`pulumi_vigo_vm.vm.guest.addresses.choose` takes."""
        return {mac: list(found) for mac, found in self.addresses}

    @property
    def has_address(self) -> bool:
        return any(found for _, found in self.addresses)


def clean_text(data: bytes) -> list[str]:
    """``data``'s last :data:`MAX_CONSOLE_LINES` complete lines, each cut to nothing when
    longer than :data:`MAX_LINE_CHARS`, without escapes or control characters.

    Decoded as UTF-8 with replacement (a console is not obliged to be UTF-8). Both bounds
    hold before any pattern sees a line: the cost of a look stays a fraction of a second
    whatever the guest printed (a long line keeps its place, as a blank one). A trailing
    line without its newline is dropped: it is still being written, and half a marker or
    half a table row must not be read as a whole one.
    """
    lines = data.decode("utf-8", errors="replace").split("\n")[:-1][-MAX_CONSOLE_LINES:]
    return [_clean_line(line) if len(line) <= MAX_LINE_CHARS else "" for line in lines]


def _clean_line(line: str) -> str:
    if line.isprintable():  # most lines: no escape, no control character
        return line
    return _CONTROL.sub("", _ESCAPE_REST.sub("", _CSI.sub("", line)))


def _current_boot(lines: list[str]) -> tuple[list[str], bool]:
    for index in range(len(lines) - 1, -1, -1):
        if _BOUNDARY.match(lines[index]):
            return lines[index:], True
    return lines, False


def _table_title(body: str) -> str | None:
    """The title of a ``ci-info`` table's title line (``+++…Net device info+++…``), or None.

    String methods, not a pattern: a title is at most 60 characters centred between runs
    of at least three ``+`` or ``!``, and a regex saying so backtracks quadratically on a
    long run of ``+`` (the defect this replaced).
    """
    title = body.strip(_TITLE_RULE)
    lead = len(body) - len(body.lstrip(_TITLE_RULE))
    trail = len(body) - len(body.rstrip(_TITLE_RULE))
    if not title or lead < 3 or trail < 3 or len(title) > 60:
        return None
    return title


def _table_row(cells_text: str) -> tuple[str, str] | None:
    """(MAC, address text) from one ``| Device | Up | Address | Mask | Scope | Hw |`` row."""
    if not (cells_text.startswith("|") and cells_text.endswith("|")):
        return None
    cells = [cell.strip() for cell in cells_text[1:-1].split("|")]
    if len(cells) != 6 or cells[1] not in ("True", "False"):
        return None
    mac = normalize_mac(cells[5])
    if mac is None:
        return None
    return mac, cells[2]


def _read_lines(lines: list[str], instance_id: str | None) -> ConsoleReading:
    stage: str | None = None
    finished_by: str | None = None
    final_failed = False
    instance_id_seen: str | None = None
    tables: dict[str, list[str]] = {}
    in_table = False
    table_seen = False
    current: dict[str, list[str]] = {}

    def close_table() -> None:
        nonlocal current
        tables.update(current)
        current = {}

    for raw in lines:
        line = raw.strip()
        at = line.find(_CI_INFO)
        if at >= 0:
            body = line[at + len(_CI_INFO) :].strip()
            title = _table_title(body)
            if title is not None:
                close_table()
                in_table = title.strip() == "Net device info"
                table_seen = table_seen or in_table
                continue
            if in_table and not body.startswith("+") and not _TABLE_HEADER.match(body):
                row = _table_row(body)
                if row is None:
                    close_table()
                    in_table = False
                else:
                    mac, text = row
                    found = current.setdefault(mac, [])
                    address = parse_ip(text)
                    if address is not None and str(address) not in found:
                        found.append(str(address))
            continue
        if not any(word in line for word in _KEYWORDS):
            continue
        match = _STAGE.search(line)
        if match:
            close_table()
            in_table = False
            stage = match.group(1)
            continue
        if _FINAL_MESSAGE.search(line):
            finished_by = finished_by or "final_message"
            continue
        match = _MARKER.search(line)
        if match:
            instance_id_seen = match.group(1)
            if instance_id is not None and match.group(1) == instance_id:
                finished_by = "marker"
            continue
        match = _TARGETING.search(line)
        if match:
            instance_id_seen = match.group(1)
            continue
        if _FINAL_DONE.search(line):
            finished_by = finished_by or "systemd"
        elif _FINAL_FAILED.search(line):
            final_failed = True
    close_table()
    return ConsoleReading(
        addresses=tuple((mac, tuple(found)) for mac, found in tables.items()),
        table_seen=table_seen,
        stage=stage,
        finished=finished_by is not None,
        finished_by=finished_by,
        final_failed=final_failed,
        instance_id_seen=instance_id_seen,
    )


def read_console(data: bytes, instance_id: str | None = None) -> ConsoleReading:
    """What the current boot's part of a console log says.

    ``data`` is the log (or :func:`boot_slice`'s cut of it); only its last
    :data:`MAX_CONSOLE_BYTES` (and of those the last :data:`MAX_CONSOLE_LINES`) are read,
    from the last boot boundary in them. ``instance_id``
    is this VM's seed's instance-id: only a :func:`ready_marker` naming it counts as ready;
    with None only cloud-init's and systemd's own lines do. Never raises on any bytes.
    """
    window = bytes(data[-MAX_CONSOLE_BYTES:]) if isinstance(data, (bytes, bytearray)) else b""
    if len(data) > MAX_CONSOLE_BYTES:
        window = window[window.find(b"\n") + 1 :]  # the window began mid-line
    lines = clean_text(window)
    boot, found = _current_boot(lines)
    reading = _read_lines(boot, instance_id)
    return replace(reading, boot_found=found)


def describe_progress(reading: ConsoleReading) -> str:
    """A timeout message's account of the console, which quotes none of it.

    User-data scripts echo secrets to the console, so this names only facts the parser
    validated: the last cloud-init stage (one of a closed set of spellings), whether the
    ``ci-info`` table and a usable address appeared, and whether cloud-init finished.
    """
    if reading.stage is None:
        said = "no cloud-init stage seen on the console this boot"
    else:
        said = f"last cloud-init stage seen: {reading.stage}"
    if reading.has_address:
        said += "; an address appeared in cloud-init's device table"
    elif reading.table_seen:
        said += "; cloud-init's device table showed no usable address"
    else:
        said += "; no address on the console"
    if reading.final_failed:
        said += "; systemd reported cloud-final.service failed"
    if reading.finished:
        said += "; cloud-init finished"
    if not reading.boot_found:
        said += " (no boot start found in the log)"
    return said


@dataclass(frozen=True)
class LogMark:
    """Where this boot's console output begins, recorded just before the guest started.

    ``offset`` is the log's size then (0 when it did not exist); ``inode`` its inode when the
    host can tell (local ``stat``; SFTP attributes carry none), which tells a rotated file
    from a file that only grew.
    """

    offset: int
    inode: int | None = None


@dataclass(frozen=True)
class LogFile:
    """One console log file as read now: its identity, full size and its last bytes."""

    size: int
    tail: bytes
    inode: int | None = None

    def after(self, offset: int) -> bytes:
        """The bytes of ``tail`` that lie beyond ``offset`` in the whole file."""
        starts_at = self.size - len(self.tail)
        return self.tail[max(0, offset - starts_at) :]


def boot_slice(mark: LogMark, current: LogFile, rotated: LogFile | None = None) -> bytes:
    """This boot's console bytes, across one virtlogd rotation.

    virtlogd (``max_size`` 2 MiB by default) renames ``<log>`` to ``<log>.0`` and starts
    an empty ``<log>`` when the file grows past its limit, so the bytes written since the
    provider recorded ``mark`` may straddle two files. ``current`` is ``<log>`` now and
    ``rotated`` is ``<log>.0`` (None when absent); each carries its tail (the caller reads at
    most :data:`MAX_CONSOLE_BYTES`) and its full size.

    - Same file (same inode, or inodes unknown and the file not smaller than the mark): the
      bytes after ``mark.offset``.
    - Rotated since (``<log>.0`` is the marked inode, or inodes unknown and ``<log>`` is now
      smaller than the mark): ``<log>.0`` after the offset, then all of ``<log>``.
    - Rotated more than once, or the log was replaced: all of what is at hand.

    With unknown inodes a file that rotated and has already regrown past the mark is taken
    for the same file and cut at the mark; :func:`read_console`'s boot boundary still keeps
    an earlier boot out. The result is at most :data:`MAX_CONSOLE_BYTES` (its end kept).
    """
    offset = max(0, mark.offset)
    known = mark.inode is not None and current.inode is not None
    if known:
        same = current.inode == mark.inode and current.size >= offset
    else:
        same = current.size >= offset
    if same:
        return current.after(offset)[-MAX_CONSOLE_BYTES:]
    before = b""
    if rotated is not None:
        if mark.inode is not None and rotated.inode is not None:
            marked = rotated.inode == mark.inode
        else:
            marked = rotated.size >= offset
        before = rotated.after(offset) if marked else rotated.tail
    return (before + current.tail)[-MAX_CONSOLE_BYTES:]
