"""Which domains on a host reference which files: the one answer to "is this file in use".

A file is used by a domain when a disk of the domain's persistent definition, or of its
live definition while it runs, names it (directly, or as a pool volume), or when it lies
in such a disk's backing chain (read from the qcow2 headers, bounded; backing files are
read-only uses). VigoDisk's delete, VigoBaseImage's update and a VM's "already used
writable elsewhere" refusal all ask :func:`host_usage`.

A file is the file, not a string: uses and questions are matched by the file each path
names on the host that holds it (:meth:`~pulumi_vigo_vm.hosts.base.Host.file_ids`: device
and inode, else the resolved path), so a symlink, ``..``, a bind path or a hard link to a
file are uses of that file. A path that names no file has no identity: its normalised
spelling is compared. The whole listing's paths are identified in one question to the
host, and each path a listing is asked about once.

One listing per host per run: the dynamic provider server lives for one engine run and
serves many resources at once, so the listing is kept per libvirt URI in this process.
Reports (``attached_to``) may use the kept listing; a refusal or a removal asks with
``fresh=True``, because a stale "free" must never remove a disk a VM has since taken.
Domains this process defines or undefines are written into the kept listing at once
(:func:`note_defined`, :func:`note_undefined`). Thread-safe.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..common.qcow2 import HEADER_READ_SIZE, parse_header
from ..errors import HostError, VigoError
from ..hosts.base import FileId, Host, read_bounded
from ..virt.target import Target
from .disk_refs import DiskRef, disk_refs

__all__ = [
    "MAX_CHAIN_DEPTH",
    "DiskUse",
    "HostUsage",
    "Identify",
    "by_spelling",
    "domain_uses",
    "forget",
    "host_usage",
    "identified",
    "identities",
    "note_defined",
    "note_undefined",
]

MAX_CHAIN_DEPTH = 16
"""Backing files followed below one disk, at most: a chain is read from headers on the
host, which anyone with write access to an image can point anywhere (even in a loop)."""


@dataclass(frozen=True, order=True)
class DiskUse:
    """One domain's use of one file."""

    domain: str
    path: str
    writable: bool
    """The domain may write it: a disk that is no CD-ROM, neither readonly nor shareable.
    A backing file never is."""
    active: bool
    """The running domain has it open (its live definition names it)."""
    direct: bool
    """A disk's own source; False for a member of a disk's backing chain."""
    file: FileId = field(compare=False)
    """The file ``path`` names on the host (see :func:`identities`): what questions are
    matched by. Not compared: a use is told by its domain and spelling."""


Identify = Callable[[Collection[str]], Mapping[str, FileId]]
"""(paths) -> the file each names on one host, for every path asked."""


def by_spelling(paths: Collection[str]) -> dict[str, str]:
    """Each path's normalised spelling as its identity: for a listing with no host behind
    it, and the answer :func:`identities` gives for a path that names no file."""
    return {path: posixpath.normpath(path) for path in paths}


def identities(host: Host, paths: Collection[str]) -> dict[str, FileId]:
    """The file each of ``paths`` names on ``host``, in one question to it
    (:meth:`~pulumi_vigo_vm.hosts.base.Host.file_ids`). Each path is asked as written, never
    normalised first: the host resolves ``..`` after the symlink before it, as qemu's open
    does, where a lexical normalisation would name another file. A path that names no file
    has no identity, so its normalised spelling stands for it."""
    found = host.file_ids(paths)
    return {path: found.get(path, normal) for path, normal in by_spelling(paths).items()}


@dataclass(frozen=True)
class HostUsage:
    """A listing of one host: every domain's uses, by domain name."""

    uri: str
    by_domain: Mapping[str, tuple[DiskUse, ...]] = field(default_factory=dict)
    identify: Identify = field(default=by_spelling, compare=False, repr=False)
    """How a path asked about is identified: the host's :func:`identities`."""
    known: dict[str, FileId] = field(default_factory=dict, compare=False, repr=False)
    """Files already identified for this listing, by path (its uses' own are added here):
    each path is asked of the host once per listing, and a path the listing names answers
    as the listing saw it."""

    def __post_init__(self) -> None:
        own = {use.path: use.file for uses in self.by_domain.values() for use in uses}
        object.__setattr__(self, "known", {**self.known, **own})

    def file_of(self, path: str) -> FileId:
        """The file ``path`` names, as this listing identifies it."""
        if path not in self.known:
            self.known[path] = self.identify([path])[path]
        return self.known[path]

    def users(self, path: str) -> tuple[DiskUse, ...]:
        """Every use of the file ``path`` names, by any spelling (a symlink, ``..``, a bind
        path, a hard link), sorted."""
        wanted = self.file_of(path)
        found = (use for uses in self.by_domain.values() for use in uses if use.file == wanted)
        return tuple(sorted(found))

    def domains_using(self, path: str) -> tuple[str, ...]:
        """The names of the domains that use ``path``, sorted, each once."""
        return tuple(sorted({use.domain for use in self.users(path)}))

    def with_domain(self, name: str, uses: Iterable[DiskUse]) -> HostUsage:
        """This listing with domain ``name``'s uses replaced by ``uses`` (identified)."""
        return replace(self, by_domain={**self.by_domain, name: tuple(uses)})

    def without_domain(self, name: str) -> HostUsage:
        """This listing without domain ``name``."""
        return replace(self, by_domain={k: v for k, v in self.by_domain.items() if k != name})


Resolve = Callable[[str, str], str | None]
"""(pool, volume) -> the volume's path on the host, or None."""
Chain = Callable[[str, str | None], tuple[str, ...]]
"""(path, format) -> the backing files below it, nearest first."""


def domain_uses(
    name: str,
    persistent: Iterable[DiskRef],
    live: Iterable[DiskRef] | None,
    resolve: Resolve,
    chain: Chain,
) -> tuple[DiskUse, ...]:
    """Domain ``name``'s uses from its definitions' disks (``live``: None when it is not
    running), each identified by its normalised spelling (:func:`by_spelling`) until
    :func:`identified` gives it its file: one per spelling, a path named by both
    definitions active, and writable if either lets the domain write it. Pure given
    ``resolve`` and ``chain``."""
    found: list[DiskUse] = []
    for refs, active in ((persistent, False), (live or (), True)):
        for ref in refs:
            path = ref.path
            if path is None and ref.pool is not None and ref.volume is not None:
                path = resolve(ref.pool, ref.volume)
            if path is None:
                continue
            found.append(DiskUse(name, path, ref.writable, active, True, path))
            found += [DiskUse(name, b, False, active, False, b) for b in chain(path, ref.format)]
    # Merged while each is identified by its exact spelling: x/../a and a may be two files.
    return tuple(replace(use, file=posixpath.normpath(use.path)) for use in _one_per_file(found))


def identified(
    by_domain: Mapping[str, Iterable[DiskUse]], files: Mapping[str, FileId]
) -> dict[str, tuple[DiskUse, ...]]:
    """``by_domain``'s uses with the file each names (``files``: every use's path's), one
    use per (domain, file)."""
    return {
        name: _one_per_file(replace(use, file=files[use.path]) for use in uses)
        for name, uses in by_domain.items()
    }


def _one_per_file(uses: Iterable[DiskUse]) -> tuple[DiskUse, ...]:
    """One use per (domain, file): writable, active and direct if any of its uses is, and
    spelled as a direct use spells it (the name a device of the domain gives it)."""
    merged: dict[tuple[str, FileId], DiskUse] = {}
    for use in uses:
        old = merged.get((use.domain, use.file))
        if old is not None:
            use = DiskUse(
                use.domain,
                old.path if old.direct or not use.direct else use.path,
                old.writable or use.writable,
                old.active or use.active,
                old.direct or use.direct,
                use.file,
            )
        merged[(use.domain, use.file)] = use
    return tuple(sorted(merged.values()))


def backing_chain(host: Host, path: str, fmt: str | None) -> tuple[str, ...]:
    """The backing files below ``path``, read from qcow2 headers (nearest first, at most
    :data:`MAX_CHAIN_DEPTH`). A raw file has none; a file that cannot be read ends the
    chain (nothing below it is known), and so does anything but a regular file: a FIFO
    named as a disk would block the read forever, and a device is read by no one here."""
    found: list[str] = []
    current, current_fmt = path, fmt
    while len(found) < MAX_CHAIN_DEPTH and current_fmt != "raw":
        try:
            stat = host.stat(current)
            if stat is None or not stat.is_file:
                break
            header = parse_header(read_bounded(host, current, HEADER_READ_SIZE))
        except (OSError, HostError):
            break
        if header is None or not header.backing_file:
            break
        backing = header.backing_file
        if "://" in backing or backing.startswith("json:"):
            break  # a network backing: no file on this host
        # Joined as qemu joins it, not normalised: the host resolves what the name means.
        backing = posixpath.join(posixpath.dirname(current), backing)
        if backing == path or backing in found:
            break
        found.append(backing)
        current, current_fmt = backing, header.backing_format
    return tuple(found)


class _Reader:
    """Resolves pools, reads chains and identifies files for one listing, each question
    answered once."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._volumes: dict[tuple[str, str], str | None] = {}
        self._chains: dict[tuple[str, str | None], tuple[str, ...]] = {}

    def resolve(self, pool: str, volume: str) -> str | None:
        key = (pool, volume)
        if key not in self._volumes:
            self._volumes[key] = self._target.hypervisor.pool_volume_path(pool, volume)
        return self._volumes[key]

    def chain(self, path: str, fmt: str | None) -> tuple[str, ...]:
        key = (path, fmt)
        if key not in self._chains:
            self._chains[key] = backing_chain(self._target.host, path, fmt)
        return self._chains[key]

    def identify(self, paths: Collection[str]) -> dict[str, FileId]:
        return identities(self._target.host, paths)

    def uses(self, name: str, persistent_xml: str, live_xml: str | None) -> tuple[DiskUse, ...]:
        """Domain ``name``'s uses, not yet identified."""
        live = disk_refs(live_xml) if live_xml is not None else None
        return domain_uses(name, disk_refs(persistent_xml), live, self.resolve, self.chain)

    def listing(
        self, by_domain: Mapping[str, Iterable[DiskUse]], about: Collection[str] = ()
    ) -> HostUsage:
        """A listing of ``by_domain``'s uses, identified in one question to the host with
        the paths ``about`` (those its caller will ask about)."""
        spelled = {name: tuple(uses) for name, uses in by_domain.items()}
        files = self.identify({*about, *(u.path for uses in spelled.values() for u in uses)})
        known = {path: files[path] for path in about}
        uri = self._target.hypervisor.uri
        return HostUsage(uri, identified(spelled, files), self.identify, known)


def _scan(target: Target, about: Collection[str]) -> HostUsage:
    reader = _Reader(target)
    by_domain = {
        d.name: reader.uses(d.name, d.persistent_xml, d.live_xml)
        for d in target.hypervisor.domain_definitions()
    }
    return reader.listing(by_domain, about)


_lock = threading.Lock()
_cache: dict[str, HostUsage] = {}
_generation: dict[str, int] = {}
_scan_locks: dict[str, threading.Lock] = {}


def host_usage(target: Target, *, fresh: bool = False, about: Collection[str] = ()) -> HostUsage:
    """The listing of ``target``'s host: the one kept for its URI, or a new one (always
    with ``fresh``; refusals and removals must ask fresh). A new listing identifies the
    paths ``about`` with its own, in the same question to the host (over SSH, one command
    instead of two). Raises HostError when libvirt cannot list the domains."""
    uri = target.hypervisor.uri
    if fresh:
        return _scan_and_keep(target, about)
    with _lock:
        kept = _cache.get(uri)
        scan_lock = _scan_locks.setdefault(uri, threading.Lock())
    if kept is not None:
        return kept
    with scan_lock:  # many resources ask at once: one of them lists, the others wait
        with _lock:
            kept = _cache.get(uri)
        return kept if kept is not None else _scan_and_keep(target, about)


def _scan_and_keep(target: Target, about: Collection[str]) -> HostUsage:
    uri = target.hypervisor.uri
    with _lock:
        generation = _generation.get(uri, 0)
    usage = _scan(target, about)
    with _lock:
        # A define or undefine noted while this listing ran may be missing from it: then
        # the kept listing (with the note) stands, or the next ask lists again.
        if _generation.get(uri, 0) == generation:
            _cache[uri] = usage
    return usage


def note_defined(uri: str, name: str, xml: str) -> None:
    """Domain ``name`` was (re)defined on ``uri`` by this process with definition ``xml``:
    the kept listing takes its persistent uses (a running domain's live uses stay). If the
    uses cannot be read now, the kept listing is dropped and the next ask lists afresh."""
    with _lock:
        kept = _cache.get(uri)
        _generation[uri] = _generation.get(uri, 0) + 1
    if kept is None:
        return
    live = [use for use in kept.by_domain.get(name, ()) if use.active]
    try:
        reader = _Reader(Target.for_uri(uri))
        persistent = reader.listing({name: reader.uses(name, xml, None)}).by_domain[name]
    except (ValueError, VigoError):
        forget(uri)
        return
    with _lock:
        current = _cache.get(uri)
        if current is not None:
            _cache[uri] = current.with_domain(name, _one_per_file([*persistent, *live]))


def note_undefined(uri: str, name: str) -> None:
    """Domain ``name`` is gone from ``uri`` (undefined by this process, not running)."""
    with _lock:
        _generation[uri] = _generation.get(uri, 0) + 1
        current = _cache.get(uri)
        if current is not None:
            _cache[uri] = current.without_domain(name)


def forget(uri: str) -> None:
    """Drop the kept listing of ``uri``: the next ask lists the host again."""
    with _lock:
        _generation[uri] = _generation.get(uri, 0) + 1
        _cache.pop(uri, None)
