"""Bring a source's bytes to a temporary file on the hypervisor, and say what they hash to.

Two ways, one result (:class:`Digests`): ``fetch_on="runner"`` streams the source through
the provider and the host connection we already hold (:meth:`Host.open_atomic_writer`),
decompressing on the way; ``fetch_on="host"`` has the hypervisor download it itself with
``curl`` piped through the decompressor and ``sha256sum``, under ``set -o pipefail`` and a
command timeout. Neither keeps anything in memory beyond one block, and neither judges the
result: the caller compares the published digest with the declared one.

Both are bounded the same way (:mod:`.limits`): at most ``max_bytes`` as published and as
decompressed (``--max-filesize`` and a counting ``head -c`` on the host), and an overall
deadline (the curator's watch on the runner, ``--max-time`` and the command timeout on the
host). The URL, which may carry a credential (:mod:`.urls`), reaches curl through a 0600
config file beside the temporary, removed when curl is done (swept by the next run if the
provider is killed), never through its command line, which every user of the host can list.
"""

from __future__ import annotations

import contextlib
import hashlib
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..common.progress import Progress
from ..common.tempnames import temporary_name
from ..errors import CommandError, CommandTimeoutError, HostError, ImageError
from ..hosts.base import Host
from .decompress import HOST_COMMANDS, decompressed
from .download import MAX_REDIRECTS, Opened, open_source
from .limits import Limits
from .spec import BaseImageSpec
from .urls import scrubbed, shown

__all__ = ["Digests", "fetch_on_host", "fetch_on_runner", "source_digests"]

_COMMAND_SLACK_S = 60.0
"""The host command's timeout is curl's ``--max-time`` plus this: curl ends first and says
why; the timeout only catches what hangs after it (the decompressor, the hashing)."""
_OVER_CAP = "vigo-fetch: more than"
_CONFIG_MODE = 0o600

# $1 curl config file (holds the url), $2 output file, $3 the decompression command (from
# HOST_COMMANDS, or cat; split into words on purpose), $4 connect s, $5 idle s, $6 max
# redirects, $7 max bytes, $8 max s. Prints the published bytes' sha256, then the written
# file's. capped: at most $1 bytes pass; one more is an error (GNU head -c reads no further).
_HOST_SCRIPT = r"""
set -o pipefail -o noclobber
umask 077
unpack=$3
capped() {
  head -c "$1" || return $?
  if [ "$(head -c 1 | wc -c)" -ne 0 ]; then echo "vigo-fetch: more than $1 bytes" >&2; return 90; fi
}
exec 3>&1
published=$( { curl --config "$1" --fail --silent --show-error --location \
    --proto =http,https,file --max-redirs "$6" --connect-timeout "$4" --speed-limit 1 \
    --speed-time "$5" --max-filesize "$7" --max-time "$8" -H 'Accept-Encoding: identity' \
    | capped "$7" | tee /dev/fd/4 | $unpack | capped "$7" > "$2"; } 4>&1 >&3 \
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


def _copy(
    opened: Opened,
    spec: BaseImageSpec,
    limits: Limits,
    label: str,
    emit: Callable[[str], None],
    write: Callable[[bytes], object] | None,
) -> Digests:
    """Read an opened source once: hash it as published, decompress, hash and ``write``
    that; each side stopped at the cap."""
    name = shown(spec.source)
    published, stored = hashlib.sha256(), hashlib.sha256()
    progress = Progress(label, opened.length, emit)
    raw = _counted(limits.capped(opened.chunks, "the download", name), published, progress)
    image = decompressed(raw, spec.compression, name)
    for block in limits.capped(image, "the decompressed image", name):
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
    limits: Limits,
    label: str,
    emit: Callable[[str], None],
    check: Callable[[Digests], None],
) -> Digests:
    """Stream the source into ``temporary`` on ``host`` (0600). The source is opened first
    (a dead one writes nothing on the host); ``check`` judges the digests before the file
    lands at ``temporary``; a failure of any kind leaves nothing there."""
    with open_source(spec.source, idle_timeout=idle_timeout, limits=limits) as opened:
        try:
            with host.open_atomic_writer(temporary, 0o600) as out:
                digests = _copy(opened, spec, limits, label, emit, out.write)
                check(digests)
        except (OSError, HostError) as exc:
            # SFTP reports a full disk as a bare "Failure" (protocol v3 has no ENOSPC): the
            # message names the likeliest cause either way.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ImageError(
                f"writing {spec.path} on {host.name} failed ({reason}); nothing was kept. "
                "If the disk there is full, free space (the image needs its full size) or "
                "choose another path"
            ) from exc
    return digests


def source_digests(
    spec: BaseImageSpec,
    *,
    idle_timeout: float,
    limits: Limits,
    label: str,
    emit: Callable[[str], None],
) -> Digests:
    """The digests of the source as it would be written, writing nothing: how a file found
    at the path is compared with a compressed source."""
    with open_source(spec.source, idle_timeout=idle_timeout, limits=limits) as opened:
        return _copy(opened, spec, limits, label, emit, None)


def fetch_on_host(
    host: Host, spec: BaseImageSpec, temporary: str, *, idle_timeout: float, limits: Limits
) -> Digests:
    """Have ``host`` download the source into ``temporary`` itself (curl, with the host's
    own proxy settings and CA store). On failure the caller removes ``temporary`` (see
    :func:`pulumi_vigo_vm.hostfile.ops.install`)."""
    name = shown(spec.source)
    _refuse_irregular_file(host, spec)
    config = temporary_name(temporary)  # a shape the sweep of a killed run's files knows
    host.write_atomic(config, _curl_config(spec.source), _CONFIG_MODE)
    argv = [
        "bash", "-c", _HOST_SCRIPT, "vigo-fetch", config, temporary, _unpack_command(spec),
        f"{limits.connect_timeout_s:g}", f"{idle_timeout:g}", str(MAX_REDIRECTS),
        str(limits.max_bytes), f"{limits.ceiling_s:g}",
    ]  # fmt: skip
    try:
        result = host.run(argv, timeout=limits.ceiling_s + _COMMAND_SLACK_S)
    except CommandTimeoutError as exc:
        raise ImageError(
            f"source {name}: the download on {host.name} did not finish within "
            f"{limits.ceiling_s:g}s; nothing was kept"
        ) from exc
    except CommandError as exc:
        raise ImageError(_host_failure(host, spec, limits, exc)) from exc
    finally:
        with contextlib.suppress(OSError, HostError):
            host.remove(config)
    digests = result.stdout.split()
    if len(digests) != 2:
        raise ImageError(
            f"source {name}: the download on {host.name} printed no digests "
            f"({result.stdout.strip()[:200]!r}); is bash there?"
        )
    return Digests(digests[0], digests[1])


def _curl_config(url: str) -> bytes:
    """A curl config file naming ``url`` (curl's quoting: backslash escapes in quotes)."""
    quoted = url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'url = "{quoted}"\n'.encode()


def _refuse_irregular_file(host: Host, spec: BaseImageSpec) -> None:
    """A ``file://`` source on the host must be a regular file. Checked by stat before curl
    opens it: a FIFO swapped in between is still ended by ``--max-time``."""
    parts = urllib.parse.urlsplit(spec.source)
    if parts.scheme != "file":
        return
    path = urllib.parse.unquote(parts.path)
    facts = host.stat(path)
    if facts is not None and not facts.is_file:
        raise ImageError(
            f"source {shown(spec.source)}: {path} on {host.name} is not a regular file (a "
            "FIFO, device, socket or directory would never end or never start); name the "
            "image file itself"
        )


def _host_failure(host: Host, spec: BaseImageSpec, limits: Limits, exc: CommandError) -> str:
    """What a failed download on the host says, its output scrubbed of the URL's secret."""
    name = shown(spec.source)
    said = scrubbed(_said(exc.stderr), spec.source)
    if _OVER_CAP in exc.stderr or "Maximum file size exceeded" in exc.stderr:
        return (
            f"source {name}: the download on {host.name} goes beyond {limits.max_bytes} bytes, "
            "more than any image may have; stopped there and nothing was kept. Check the URL "
            "(is it the image?)"
        )
    return (
        f'source {name}: the download on {host.name} (fetch_on="host") failed '
        f"(exit {exc.returncode}): {said}; nothing was kept. The host needs "
        f"curl and {_unpack_command(spec).split()[0]}, and "
        'must reach the URL itself (or use fetch_on="runner")'
    )


def _unpack_command(spec: BaseImageSpec) -> str:
    return HOST_COMMANDS[spec.compression] if spec.compression else "cat"


def _said(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or "no message"
