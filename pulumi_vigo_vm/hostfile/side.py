"""Files we write beside another (a digest record, a claim sidecar): the rules of the main
file, for each of them.

A name beside a file we own is not ours by being beside it: the operator keeps their own
``<image>.sha256`` there, another tool its record. So a side file is made exclusively (a
temporary moved in without replacing: of two writers one wins, and nothing is written
over a file that appeared), replaced only when what is there is provably ours, and removed
only when provably ours. "Provably ours" is the caller's ``ours(content)``: the content is
our record format and names our path, or our claim. Anything else is left alone, and the
caller is told (NotOwnedError naming the file and the fix).

What remains against another process: a replacement reads the file, then renames over it;
a file put there by someone else in between those two steps (milliseconds) is replaced.
Exclusive creation and removal of a file we read as ours have no such gap beyond the same
read-then-remove.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ..common.tempnames import temporary_name
from ..errors import NotOwnedError
from ..hosts.base import Host, read_bounded

__all__ = ["Ours", "SideOwner", "remove_side", "require_side", "side_owner", "write_side"]

Ours = Callable[[bytes], bool]
"""Whether a side file's content is provably ours (our format, naming our path or claim)."""

MAX_SIDE_BYTES = 16384
"""A side file larger than this is none of ours (records and claims are a few lines)."""


class SideOwner(StrEnum):
    """What is at a side file's name."""

    FREE = "free"  # nothing
    OURS = "ours"  # a regular file whose content ``ours`` accepts
    FOREIGN = "foreign"  # anything else: never replaced, never removed


def side_owner(host: Host, name: str, ours: Ours) -> SideOwner:
    """Whose the file at ``name`` is (reads only)."""
    stat = host.stat(name)
    if stat is None:
        return SideOwner.FREE
    if not stat.is_file or stat.size > MAX_SIDE_BYTES:
        return SideOwner.FOREIGN
    data = read_bounded(host, name, MAX_SIDE_BYTES + 1)
    return SideOwner.OURS if ours(data) else SideOwner.FOREIGN


def require_side(host: Host, name: str, ours: Ours, fix: str) -> None:
    """Raise NotOwnedError (naming ``name`` and ``fix``) when a file that is not ours is at
    ``name``: asked before a long act (a download), so it is refused before anything is
    made; :func:`write_side` refuses it again at the act."""
    if side_owner(host, name, ours) is SideOwner.FOREIGN:
        raise _foreign(name, fix)


def write_side(host: Host, name: str, data: bytes, mode: int, ours: Ours, fix: str) -> None:
    """Write ``data`` at ``name``: exclusively where nothing is there, over a file only
    when it is ours. NotOwnedError (naming ``fix``) for anything else, which is left as it
    is; no temporary is left whatever fails."""
    temporary = temporary_name(name)
    host.write_atomic(temporary, data, mode)
    try:
        try:
            host.rename_noreplace(temporary, name)
            return
        except FileExistsError:
            pass
        if side_owner(host, name, ours) is not SideOwner.OURS:
            raise _foreign(name, fix)
        host.rename(temporary, name)
    except BaseException:
        host.remove(temporary)
        raise


def remove_side(host: Host, name: str, ours: Ours) -> bool:
    """Remove the file at ``name`` when it is ours; anything else stays. Returns whether
    a file was removed."""
    if side_owner(host, name, ours) is not SideOwner.OURS:
        return False
    return host.remove(name)


def _foreign(name: str, fix: str) -> NotOwnedError:
    return NotOwnedError(
        f"{name} exists and is not a file of ours (the operator's own, or another tool's); "
        f"it is left alone: {fix}"
    )
