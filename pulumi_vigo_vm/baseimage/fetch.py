"""Bring a source's bytes to a temporary file on the hypervisor, and say what they hash to.

Two ways, one result (:class:`Digests`): ``fetch_on="runner"`` streams the source through
the provider and the host connection we already hold (:meth:`Host.open_atomic_writer`),
decompressing on the way; ``fetch_on="host"`` has the hypervisor download it itself with
``curl`` piped through the decompressor and ``sha256sum``, under ``set -o pipefail`` and a
command timeout. Neither keeps anything in memory beyond one block, and neither judges the
result: the caller compares the published digest with the declared one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..errors import CommandError, CommandTimeoutError, HostError, ImageError
from ..hosts.base import Host
from .decompress import HOST_COMMANDS, decompressed
from .download import CONNECT_TIMEOUT_S, MAX_REDIRECTS, open_source
from .progress import Progress
from .spec import BaseImageSpec

__all__ = ["HOST_FETCH_TIMEOUT_S", "Digests", "fetch_on_host", "fetch_on_runner", "source_digests"]

HOST_FETCH_TIMEOUT_S = 6 * 3600.0
"""The longest a download on the host may take in all (its idle timeout ends a stall much
sooner): a few GiB over a slow link, never a provider thread blocked forever."""

# $1 url, $2 output file, $3 decompression (none|xz|gz|bz2|zst), $4 connect s, $5 idle s,
# $6 max redirects. Prints the published bytes' sha256, then the written file's.
_HOST_SCRIPT = r"""
set -o pipefail -o noclobber
umask 077
case "$3" in
  none) unpack=cat ;;
  xz) unpack="xz -dc" ;;
  gz) unpack="gzip -dc" ;;
  bz2) unpack="bzip2 -dc" ;;
  zst) unpack="zstd -dc" ;;
  *) echo "unknown decompression $3" >&2; exit 2 ;;
esac
exec 3>&1
published=$( { curl --fail --silent --show-error --location --proto =http,https,file \
    --max-redirs "$6" --connect-timeout "$4" --speed-limit 1 --speed-time "$5" \
    -H 'Accept-Encoding: identity' -- "$1" | tee /dev/fd/4 | $unpack > "$2"; } 4>&1 >&3 \
  | sha256sum ) || exit $?
stored=$(sha256sum < "$2") || exit $?
echo "${published%% *} ${stored%% *}"
"""


@dataclass(frozen=True)
class Digests:
    """sha256 (hex) of the bytes as published, and of the image as written."""

    published: str
    stored: str


def _counted(chunks: Iterable[bytes], hasher: hashlib._Hash, progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        hasher.update(chunk)
        progress.advance(len(chunk))
        yield chunk


def _stream(
    spec: BaseImageSpec,
    idle_timeout: float,
    label: str,
    emit: Callable[[str], None],
    write: Callable[[bytes], object] | None,
    before: Callable[[], None] = lambda: None,
) -> Digests:
    """Read the source once: hash it as published, decompress, hash and ``write`` that.
    ``before`` runs once the source answered, so a dead source touches no host."""
    published, stored = hashlib.sha256(), hashlib.sha256()
    with open_source(spec.source, idle_timeout=idle_timeout) as opened:
        before()
        progress = Progress(label, opened.length, emit)
        raw = _counted(opened.chunks, published, progress)
        for block in decompressed(raw, spec.compression, spec.source):
            stored.update(block)
            if write is not None:
                write(block)
    return Digests(published.hexdigest(), stored.hexdigest())


def fetch_on_runner(
    host: Host,
    spec: BaseImageSpec,
    temporary: str,
    *,
    idle_timeout: float,
    label: str,
    emit: Callable[[str], None],
    check: Callable[[Digests], None],
) -> Digests:
    """Stream the source into ``temporary`` on ``host`` (0600). ``check`` judges the digests
    before the file lands there; a failure of any kind leaves nothing at ``temporary``."""
    try:
        with host.open_atomic_writer(temporary, 0o600) as out:
            digests = _stream(spec, idle_timeout, label, emit, out.write)
            check(digests)
    except (OSError, HostError) as exc:
        # SFTP reports a full disk as a bare "Failure" (protocol v3 has no ENOSPC): the
        # message names the likeliest cause either way.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImageError(
            f"writing {spec.path} on {host.name} failed ({reason}); nothing was kept. If "
            "the disk there is full, free space (the image needs its full size) or choose "
            "another path"
        ) from exc
    return digests


def source_digests(
    spec: BaseImageSpec, *, idle_timeout: float, label: str, emit: Callable[[str], None]
) -> Digests:
    """The digests of the source as it would be written, writing nothing: how a file found
    at the path is compared with a compressed source."""
    return _stream(spec, idle_timeout, label, emit, None)


def fetch_on_host(
    host: Host, spec: BaseImageSpec, temporary: str, *, idle_timeout: float
) -> Digests:
    """Have ``host`` download the source into ``temporary`` itself (curl, with the host's
    own proxy settings and CA store). On failure the caller removes ``temporary`` (see
    :func:`pulumi_vigo_vm.hostfile.install`)."""
    argv = [
        "bash", "-c", _HOST_SCRIPT, "vigo-fetch", spec.source, temporary,
        spec.compression or "none", f"{CONNECT_TIMEOUT_S:g}", f"{idle_timeout:g}",
        str(MAX_REDIRECTS),
    ]  # fmt: skip
    try:
        result = host.run(argv, timeout=HOST_FETCH_TIMEOUT_S)
    except CommandTimeoutError as exc:
        raise ImageError(
            f"source {spec.source}: the download on {host.name} did not finish within "
            f"{HOST_FETCH_TIMEOUT_S:g}s; nothing was kept"
        ) from exc
    except CommandError as exc:
        raise ImageError(
            f'source {spec.source}: the download on {host.name} (fetch_on="host") failed '
            f"(exit {exc.returncode}): {_said(exc.stderr)}; nothing was kept. The host needs "
            f"curl and {HOST_COMMANDS.get(spec.compression or '', 'cat').split()[0]}, and "
            'must reach the URL itself (or use fetch_on="runner")'
        ) from exc
    digests = result.stdout.split()
    if len(digests) != 2:
        raise ImageError(
            f"source {spec.source}: the download on {host.name} printed no digests "
            f"({result.stdout.strip()[:200]!r}); is bash there?"
        )
    return Digests(digests[0], digests[1])


def _said(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or "no message"
