"""A file on a hypervisor that a resource owns: claim it, build it at a temporary name and
move it into place, refuse while domains use it, remove it only when provably ours, and
sweep the temporaries a killed run left. The shared core of VigoDisk and VigoBaseImage.

Every mutation goes through a :class:`~pulumi_vigo_vm.hosts.base.Host`; the decisions are
:mod:`.claim`'s; "in use" is :mod:`pulumi_vigo_vm.hostfile.usage`'s fresh listing, and an act that
"in use" allows (a removal, a rename over the file) runs under :mod:`pulumi_vigo_vm.hostfile.act`'s
host lock with the refusal checked again there (:func:`unused`). A failed create removes
what it made and nothing else (:func:`release`); side files follow :mod:`.side`.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from ..common.tempnames import stale_temporaries, temporary_name
from ..errors import InUseError, NotOwnedError
from ..hosts.base import Host, read_bounded
from ..virt.target import Target
from .act import fresh_listing
from .claim import (
    MAX_CLAIM_BYTES,
    FileOwner,
    claim_path,
    decode_claim,
    encode_claim,
    file_owner,
    not_owned,
)
from .side import write_side
from .usage import HostUsage, host_usage

__all__ = [
    "CLAIM_MODE",
    "adopt",
    "install",
    "owner_of",
    "read_claim",
    "refuse_in_use",
    "release",
    "remove_ours",
    "rename_claim",
    "sweep_temporaries",
    "take",
    "unused",
]

log = logging.getLogger(__name__)

CLAIM_MODE = 0o600


def read_claim(host: Host, path: str) -> str | None:
    """The claim the sidecar beside ``path`` names, or None (no sidecar, or none of ours)."""
    sidecar = claim_path(path)
    stat = host.stat(sidecar)
    if stat is None or not stat.is_file:
        return None
    return decode_claim(read_bounded(host, sidecar, MAX_CLAIM_BYTES + 1))


def owner_of(host: Host, path: str, claim: str) -> FileOwner:
    """Whose ``path`` is for the resource holding ``claim`` (reads only)."""
    return file_owner(host.stat(path) is not None, read_claim(host, path), claim)


def take(host: Host, path: str, claim: str, what: str) -> FileOwner:
    """Make ``path`` ours to build or adopt: OURS (a file we claimed is there: adopt it) or
    FREE (no file; our sidecar is now beside the path). Raises NotOwnedError, naming the
    other owner and the fix (``what``: the input that picks the path), for anything else.

    The sidecar is written exclusively (a temporary moved in without replacing): of two
    resources racing for one path exactly one gets it, and the loser touches nothing.
    """
    recorded = read_claim(host, path)
    owner = file_owner(host.stat(path) is not None, recorded, claim)
    if owner not in (FileOwner.FREE, FileOwner.OURS):
        raise not_owned(path, owner, recorded, claim, what)
    if owner is FileOwner.FREE and recorded is None:
        host.makedirs(posixpath.dirname(path))
        if not _write_claim(host, path, claim):
            recorded = read_claim(host, path)
            owner = file_owner(host.stat(path) is not None, recorded, claim)
            if owner not in (FileOwner.FREE, FileOwner.OURS):
                raise not_owned(path, owner, recorded, claim, what)
    return owner


def adopt(host: Host, path: str, claim: str, what: str) -> None:
    """Claim the file at ``path`` that no sidecar names, once the caller has proven it is
    exactly the file it would have made (VigoBaseImage: the declared digest). Raises
    NotOwnedError when another claim got there first."""
    if _write_claim(host, path, claim):
        return
    recorded = read_claim(host, path)
    if recorded != claim:
        raise not_owned(path, file_owner(True, recorded, claim), recorded, claim, what)


def _write_claim(host: Host, path: str, claim: str) -> bool:
    """Write ``claim``'s sidecar beside ``path`` exclusively (a temporary moved in without
    replacing). False when a sidecar was already there: of two racing resources exactly one
    writes it, and the loser touches nothing."""
    sidecar = claim_path(path)
    temporary = temporary_name(sidecar)
    host.write_atomic(temporary, encode_claim(claim), CLAIM_MODE)
    try:
        host.rename_noreplace(temporary, sidecar)
    except FileExistsError:
        host.remove(temporary)
        return False
    except BaseException:
        host.remove(temporary)
        raise
    return True


def rename_claim(host: Host, path: str, old: str | None, new: str) -> None:
    """Make the sidecar beside ``path`` name ``new`` where it names ``old`` (a resource
    renamed with aliases); a sidecar naming anything else, or none, is left as it is. The
    rewrite follows the side-file rules (:mod:`.side`): only over a sidecar naming ``old``."""
    if old in (None, new) or read_claim(host, path) != old:
        return
    write_side(
        host, claim_path(path), encode_claim(new), CLAIM_MODE,
        ours=lambda data: decode_claim(data) in (old, new),
        fix="remove it, or choose another path",
    )  # fmt: skip


def release(host: Host, path: str, claim: str) -> None:
    """Undo :func:`take` after a failed create: remove the sidecar this run wrote (when it
    still names ``claim``), never the file at ``path``. A file there now is one that
    appeared while the create ran (ours was never moved in): not ours, and without our
    sidecar it is no longer taken for ours either."""
    if read_claim(host, path) == claim:
        host.remove(claim_path(path))


Guard = Callable[[], AbstractContextManager[object]]
"""Opens the block in which a check still holds (e.g. ``lambda: unused(...)``)."""


def install(
    host: Host, path: str, build: Callable[[str], None], mode: int, *, replace: Guard | None = None
) -> None:
    """Build the file with ``build(temporary)`` beside ``path``, set ``mode``, and move it
    into place: never over an existing file, unless ``replace`` is given; then the rename
    over it happens inside ``replace()`` (:func:`unused`: refused at the act, not only
    before the build, when a domain has started to use the file meanwhile). Nothing is
    left at the temporary name whatever fails; a file that appeared at ``path`` meanwhile
    is left alone (NotOwnedError)."""
    temporary = temporary_name(path)
    try:
        build(temporary)
        host.chmod(temporary, mode)
        if replace is not None:
            with replace():
                host.rename(temporary, path)
        else:
            host.rename_noreplace(temporary, path)
    except FileExistsError:
        host.remove(temporary)
        raise NotOwnedError(
            f"{path} appeared while it was being created (another run creating it?); it is "
            "left alone"
        ) from None
    except BaseException:
        host.remove(temporary)
        raise


def refuse_in_use(target: Target, path: str, fix: str) -> None:
    """Raise InUseError naming the domains that use ``path`` (from a fresh listing of the
    host) and ``fix``; return when none does. An early answer (before a long download):
    the act itself must run inside :func:`unused`, which asks again."""
    _refuse(host_usage(target, fresh=True, about=(path,)), path, fix)


@contextmanager
def unused(target: Target, path: str, fix: str) -> Iterator[None]:
    """A block in which no domain uses ``path``: the host's act lock is held
    (:func:`pulumi_vigo_vm.hostfile.act.fresh_listing`) and InUseError is raised first when a
    listing taken under it shows a user. Remove or rename over the file inside it."""
    with fresh_listing(target, about=(path,)) as usage:
        _refuse(usage, path, fix)
        yield


def _refuse(usage: HostUsage, path: str, fix: str) -> None:
    domains = usage.domains_using(path)
    if domains:
        raise InUseError(path, domains, fix)


def remove_ours(target: Target, path: str, claim: str, fix: str) -> bool:
    """Remove ``path`` and its sidecar when the sidecar names ``claim``; refused (InUseError
    with ``fix``) while any domain uses the file, at the removal (:func:`unused`). Returns
    whether a file was removed; a file that is not ours is left as it is (False)."""
    host = target.host
    if read_claim(host, path) != claim:
        return False
    with unused(target, path, fix):
        removed = host.remove(path)
        host.remove(claim_path(path))
    return removed


def sweep_temporaries(host: Host, path: str) -> tuple[str, ...]:
    """Remove what a killed run left half-written beside ``path`` and its sidecar (our own
    hidden temporary names, old enough that no live run still writes them). Returns them."""
    directory = posixpath.dirname(path)
    entries = {}
    for name in host.listdir(directory):
        if name.startswith(".") and name.endswith(".tmp"):
            stat = host.stat(posixpath.join(directory, name))
            if stat is not None and stat.is_file:
                entries[name] = stat.mtime
    finals = [posixpath.basename(path), posixpath.basename(claim_path(path))]
    stale = stale_temporaries(directory, finals, entries, time.time())
    for temporary in stale:
        log.info("removing %s, left by an interrupted run", temporary)
        host.remove(temporary)
    return stale
