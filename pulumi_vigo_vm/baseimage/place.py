"""Put a verified base image at its path on a hypervisor, or tell that it is already there.

The only code of VigoBaseImage that changes a host. Ownership, the in-use refusal,
installation at a temporary name and the sweep of a killed run's temporaries are the shared
core's (:mod:`pulumi_vigo_vm.hostfile`, :mod:`pulumi_vigo_vm.hostfile.usage`); this module adds what
is particular to a downloaded image: the digest checks, the base-safety rules VigoVm applies
(:func:`pulumi_vigo_vm.hostfile.images.usable_base`: no backing file, no data file, the format told
from its magic), the owner, group and mode, and the digest record (:mod:`.record`).

Order, so that every failure leaves nothing at the path and no temporary: inputs are
checked before the host is touched, then the owner and group on the host, and that the
record's name holds no file of someone else's; the claim sidecar is written (and, if the
create fails, removed again: only the sidecar, never a file that appeared at the path
meanwhile); the bytes land at a temporary name beside the path, are checked there, and
only then are moved into place (never over a file we did not put there; over our own old
content only inside :func:`pulumi_vigo_vm.hostfile.ops.unused`, so "in use" is asked again at
the rename, not only before the download).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from ..errors import CommandError, ImageError, NotOwnedError
from ..hostfile.claim import FileOwner, not_owned
from ..hostfile.digest import file_sha256
from ..hostfile.images import usable_base
from ..hostfile.ops import (
    adopt,
    install,
    read_claim,
    refuse_in_use,
    release,
    remove_ours,
    sweep_temporaries,
    take,
    unused,
)
from ..hostfile.ops import (
    rename_claim as rename_claim_file,
)
from ..hosts.base import Host
from ..virt.target import Target
from .fetch import Digests, fetch_on_host, fetch_on_runner, source_digests
from .limits import Limits
from .record import (
    Record,
    read_record,
    record_path,
    remove_record,
    require_ours_or_free,
    write_record,
)
from .spec import BaseImageSpec, FetchOn
from .urls import shown

__all__ = [
    "IN_USE_FIX",
    "Context",
    "Found",
    "Placed",
    "chown",
    "describe",
    "ensure",
    "remove",
    "rename_claim",
    "state_of",
]

IN_USE_FIX = "point new VMs at a new path instead (a new VigoBaseImage), and retire these first"
_ACCOUNT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Context:
    """How a run transfers: its idle timeout and limits, and where its progress lines go."""

    idle_timeout: float
    label: str
    """Names the resource in progress lines and messages (``VigoBaseImage ubuntu-base``)."""
    emit: Callable[[str], None]
    limits: Limits = dataclasses.field(default_factory=Limits)


class Found(StrEnum):
    """What is at a base image's path, for the resource holding the spec's claim."""

    CURRENT = "current"  # our file, recorded with the declared digest
    STALE = "stale"  # our file with other content (a changed digest or source)
    MISSING = "missing"  # no file
    FOREIGN = "foreign"  # a file our claim does not name


@dataclass(frozen=True)
class Placed:
    """The image at its path, as the outputs report it."""

    format: str
    virtual_size_bytes: int
    size_bytes: int


def state_of(host: Host, spec: BaseImageSpec) -> Found:
    """What is at ``spec.path`` (reads only)."""
    if host.stat(spec.path) is None:
        return Found.MISSING
    if spec.claim is None or read_claim(host, spec.path) != spec.claim:
        return Found.FOREIGN
    record = read_record(host, spec.path)
    current = record is not None and record.published == spec.sha256
    return Found.CURRENT if current else Found.STALE


def describe(host: Host, path: str) -> Placed:
    """Format, virtual size and file size of the image at ``path``."""
    info = usable_base(host, path, "path")
    stat = host.stat(path)
    return Placed(info.format, info.virtual_size, stat.size if stat else 0)


def ensure(target: Target, spec: BaseImageSpec, ctx: Context, instance: str) -> Placed:
    """Make the declared image be at ``spec.path``, placed by resource instance
    ``instance`` (its ID); return what is there.

    Nothing is downloaded when our file is recorded with the declared digest. A file that
    is not ours is adopted when its content is exactly the declared image, else refused
    (NotOwnedError), never overwritten. Our file with other content (a changed digest or
    source) is replaced only while no domain uses it (else InUseError naming them): asked
    before the download and again, under the host's act lock, at the rename over it.
    A file at ``<path>.sha256`` that is no record of ours is refused before anything is
    downloaded (NotOwnedError) and left alone.
    """
    host = target.host
    claim = _claim(spec)
    sweep_temporaries(host, spec.path)
    sweep_temporaries(host, record_path(spec.path))
    _check_accounts(host, spec)
    require_ours_or_free(host, spec.path)
    found = state_of(host, spec)
    if found is Found.CURRENT:
        record = read_record(host, spec.path)
        if record is not None and record.instance != instance:  # now this instance's
            write_record(host, spec.path, dataclasses.replace(record, instance=instance))
    elif found is Found.FOREIGN:
        _adopt(host, spec, claim, ctx, instance)
    elif found is Found.STALE:
        refuse_in_use(target, spec.path, IN_USE_FIX)  # early: before the download
        _fetch(host, spec, ctx, instance, replace=target)
    else:
        fresh = take(host, spec.path, claim, "path") is FileOwner.FREE
        try:
            _fetch(host, spec, ctx, instance, replace=None)
        except BaseException:
            if fresh:  # the sidecar we just wrote; never a file that appeared at the path
                release(host, spec.path, claim)
            raise
    return describe(host, spec.path)


def chown(host: Host, path: str, spec: BaseImageSpec) -> None:
    """Give ``path`` the declared owner, group and mode."""
    try:
        host.run(["chown", f"{spec.owner}:{spec.group}", "--", path], timeout=_ACCOUNT_TIMEOUT_S)
    except CommandError as exc:
        raise ImageError(
            f"owner/group: chown {spec.owner}:{spec.group} {path} failed on {host.name} "
            f"({exc.stderr.strip()}); name an owner and group that exist there"
        ) from exc
    host.chmod(path, spec.mode)


def rename_claim(host: Host, spec: BaseImageSpec, old_claim: str | None) -> None:
    """Rewrite the sidecar for a new claim (a rename with aliases) when it names the old one."""
    if spec.claim is not None:
        rename_claim_file(host, spec.path, old_claim, spec.claim)


def remove(target: Target, spec: BaseImageSpec, instance: str) -> bool:
    """Remove the file and its sidecars when our claim names it and instance ``instance``
    placed it (a replacement that took the file over keeps it); refused while in use. The
    record goes only when it is ours (an operator's checksum file at its name stays)."""
    record = read_record(target.host, spec.path)
    if spec.claim is None or (record is not None and record.instance != instance):
        return False
    removed = remove_ours(target, spec.path, spec.claim, IN_USE_FIX)
    if removed or target.host.stat(spec.path) is None:
        remove_record(target.host, spec.path)
    return removed


def _claim(spec: BaseImageSpec) -> str:
    if spec.claim is None:
        raise ImageError("claim: missing; declare base images with pulumi_vigo_vm.VigoBaseImage")
    return spec.claim


def _check_accounts(host: Host, spec: BaseImageSpec) -> None:
    """Refuse an owner or group the host does not know, before anything is downloaded."""
    for database, name, what in (("passwd", spec.owner, "owner"), ("group", spec.group, "group")):
        if name.isdigit():
            continue
        result = host.run(["getent", database, name], check=False, timeout=_ACCOUNT_TIMEOUT_S)
        if result.returncode != 0:
            raise ImageError(
                f"{what}: {name!r} does not exist on {host.name}; create it there or name "
                f"another (e.g. root)"
            )


def _verified(spec: BaseImageSpec) -> Callable[[Digests], None]:
    def check(digests: Digests) -> None:
        if digests.published != spec.sha256:
            raise ImageError(
                f"sha256: {shown(spec.source)} has sha256 {digests.published}, not the declared "
                f"{spec.sha256}; nothing was kept. Check the digest against the publisher's "
                "SHA256SUMS (the digest of the file as published, before decompression)"
            )

    return check


def _fetch(
    host: Host, spec: BaseImageSpec, ctx: Context, instance: str, *, replace: Target | None
) -> None:
    """Download, verify and check the image at a temporary name, then move it into place:
    over our old file only with ``replace`` (its target), inside
    :func:`~pulumi_vigo_vm.hostfile.ops.unused`, so a domain that took the file during the
    download is refused at the rename, named. A new file whose record cannot be written
    is removed again (this run just moved it in)."""
    found: list[Digests] = []
    check = _verified(spec)

    def build(temporary: str) -> None:
        host.makedirs(posixpath.dirname(spec.path))
        if spec.fetch_on is FetchOn.HOST:
            digests = fetch_on_host(
                host, spec, temporary, idle_timeout=ctx.idle_timeout, limits=ctx.limits
            )
            check(digests)
        else:
            digests = fetch_on_runner(
                host, spec, temporary, idle_timeout=ctx.idle_timeout, limits=ctx.limits,
                label=ctx.label, emit=ctx.emit, check=check,
            )  # fmt: skip
        try:
            usable_base(host, temporary, "source")
        except ImageError as exc:
            raise ImageError(f"source {shown(spec.source)}: {exc}; nothing was kept") from exc
        chown(host, temporary, spec)
        found.append(digests)

    guard = None if replace is None else partial(unused, replace, spec.path, IN_USE_FIX)
    install(host, spec.path, build, spec.mode, replace=guard)
    (digests,) = found
    record = Record(digests.stored, digests.published, shown(spec.source), instance)
    try:
        write_record(host, spec.path, record)
    except BaseException:
        if replace is None:
            host.remove(spec.path)  # moved in exclusively by this run, moments ago
        raise


def _adopt(host: Host, spec: BaseImageSpec, claim: str, ctx: Context, instance: str) -> None:
    """Take a file found at the path as ours when it is exactly the declared image (its
    digest; for a compressed source, the digest of the source decompressed, which takes one
    download that writes nothing); else refuse it, untouched."""
    recorded = read_claim(host, spec.path)
    if recorded is not None:  # another resource's
        raise not_owned(spec.path, FileOwner.FOREIGN, recorded, claim, "path")
    stored = file_sha256(host, spec.path)
    published = spec.sha256
    if spec.compression is not None:
        digests = source_digests(
            spec, idle_timeout=ctx.idle_timeout, limits=ctx.limits, label=ctx.label, emit=ctx.emit
        )
        _verified(spec)(digests)
        expected = digests.stored
    else:
        expected = spec.sha256
    if stored != expected:
        raise NotOwnedError(
            f"path: {spec.path} already exists on {host.name} with other content (sha256 "
            f"{stored}, the declared image's is {expected}); it is left untouched. Move it "
            "away, or choose another path"
        )
    usable_base(host, spec.path, "path")
    adopt(host, spec.path, claim, "path")
    chown(host, spec.path, spec)
    write_record(host, spec.path, Record(stored, published, shown(spec.source), instance))
