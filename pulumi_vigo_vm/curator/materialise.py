"""Put a resolved artifact's blob on a hypervisor, once, verified, read-only.

The blob is streamed from the curator through :meth:`Host.open_atomic_writer` while its
sha256 is computed; a wrong digest or size aborts the writer, so only verified bytes ever
appear at the final path, and a failure (registry down, broken download) leaves nothing
but possibly empty directories behind. The curator is contacted before anything on the
host is touched.

Idempotency uses a sidecar ``<os>-<arch>.sha256`` (``sha256sum`` format, so
``sha256sum -c`` works on the host), written after the blob is in place. Re-hashing a
2 GiB base on every ``pulumi up`` would cost seconds per VM (and, over SSH without
coreutils, a full transfer); with the sidecar the check is a stat and a 100-byte read.
The path itself contains the artifact id, whose manifest fixes the blob digest, so a
sidecar naming another digest, a size mismatch or a failed full check (done once when
the sidecar is missing, e.g. after a crash between the two renames) is an error and the
file is never overwritten. Concurrent callers are safe: threads of one process are
serialised per (host, path) so the blob is fetched once; separate processes at worst
fetch it twice, and the second never replaces the first's file (that would change its
mtime, and with it the base stamp every VM on it recorded, so all of them would preview a
replace): the download lands in ``.incoming/`` and claims the final name with
:meth:`Host.rename_noreplace`; a loser verifies the winner's file and discards its own.

A killed download leaves its temporary behind. Every materialisation sweeps the
artifact's directory of temporaries that are provably ours and stale: named as this
module (or the host's atomic writer, for the sidecar) names them, and older than
:data:`TEMPORARY_MAX_AGE_S`, which no download still running reaches between two writes.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from ..common.tempnames import TEMPORARY_MAX_AGE_S, TEMPORARY_SUFFIX
from ..errors import CuratorError, HostError
from ..hostfile.side import write_side
from ..hosts.base import Host
from .resolve import DEFAULT_ROOT, ResolvedArtifact
from .store import ArtifactStore, open_store

__all__ = ["materialise", "sidecar_path"]

_FILE_MODE = 0o444
_DIR_MODE = 0o755

#: Where downloads are written before they claim their final name.
INCOMING = ".incoming"
_TOKEN_BYTES = 8
_PLATFORM = r"[a-z0-9]+-[a-z0-9_]+"
# In .incoming/: a download "<platform>.<token>", or the host writer's temporary of it.
_INCOMING_TEMP = re.compile(
    rf"\.?{_PLATFORM}\.[0-9a-f]{{{2 * _TOKEN_BYTES}}}(?:{TEMPORARY_SUFFIX})?"
)
# Beside the blobs: the host writer's temporary of a blob or sidecar written in place.
_PLACED_TEMP = re.compile(rf"\.{_PLATFORM}(?:\.sha256)?{TEMPORARY_SUFFIX}")

_locks_guard = threading.Lock()
_locks: dict[tuple[str, str], threading.Lock] = {}


def sidecar_path(path: str) -> str:
    """Where the digest record of a materialised blob lives."""
    return path + ".sha256"


def _lock_for(host: Host, path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((host.name, path), threading.Lock())


def materialise(
    host: Host,
    resolved: ResolvedArtifact,
    root: str = DEFAULT_ROOT,
    *,
    store: ArtifactStore | None = None,
) -> str:
    """Make ``resolved``'s blob exist at ``resolved.path(root)`` on ``host``; return the path.

    Returns at once when it is already there with the right digest; never downloads twice
    within a process; raises CuratorError when a file is there with other content.
    """
    path = resolved.path(root)
    directory = posixpath.dirname(path)
    with _lock_for(host, path):
        if _already_there(host, resolved, path):
            _sweep_stale(host, directory)
            return path
        store = store or open_store(resolved.curator)
        # Open the curator's stream first: if it is down, the host is not touched at all.
        with store.open_blob(resolved.repository, resolved.digest) as chunks:
            incoming = posixpath.join(directory, INCOMING)
            host.makedirs(incoming, _DIR_MODE)
            _sweep_stale(host, directory)
            token = secrets.token_hex(_TOKEN_BYTES)
            staged = posixpath.join(incoming, f"{resolved.platform}.{token}")
            with host.open_atomic_writer(staged, _FILE_MODE) as out:
                _copy_verified(chunks, out.write, resolved, store.location)
        try:
            host.rename_noreplace(staged, path)
        except FileExistsError:
            # Another process got there first; its file is kept untouched if it verifies.
            host.remove(staged)
            if not _already_there(host, resolved, path):
                raise CuratorError(
                    f"{path} on {host.name} appeared and vanished while artifact "
                    f"{resolved.reference} was materialised; something else is removing "
                    f"artifacts there. Run again"
                ) from None
            return path
        except BaseException:
            host.remove(staged)
            raise
        _write_sidecar(host, path, resolved)
    return path


def _sweep_stale(host: Host, directory: str) -> None:
    """Remove the temporaries of dead downloads in an artifact ``directory``: only names
    this module or the host's atomic writer give, and only when :data:`TEMPORARY_MAX_AGE_S` old."""
    incoming = posixpath.join(directory, INCOMING)
    candidates = [
        posixpath.join(incoming, name)
        for name in host.listdir(incoming)
        if _INCOMING_TEMP.fullmatch(name)
    ] + [
        posixpath.join(directory, name)
        for name in host.listdir(directory)
        if _PLACED_TEMP.fullmatch(name)
    ]
    cutoff = time.time() - TEMPORARY_MAX_AGE_S
    for candidate in candidates:
        st = host.stat(candidate)
        if st is not None and st.is_file and st.mtime < cutoff:
            host.remove(candidate)


def _copy_verified(
    chunks: Iterator[bytes],
    write: Callable[[bytes], object],
    resolved: ResolvedArtifact,
    where: str,
) -> None:
    hasher, written = hashlib.sha256(), 0
    for chunk in chunks:
        written += len(chunk)
        if written > resolved.size:
            break
        hasher.update(chunk)
        write(chunk)
    actual = "sha256:" + hasher.hexdigest()
    if written != resolved.size or actual != resolved.digest:
        got = f"{written} bytes" if written != resolved.size else actual
        raise CuratorError(
            f"blob {resolved.digest} of {resolved.repository}:{resolved.version} from "
            f"{where} is corrupt: expected {resolved.size} bytes with that digest, got {got}; "
            f"refusing it (nothing was written)"
        )


def _already_there(host: Host, resolved: ResolvedArtifact, path: str) -> bool:
    st = host.stat(path)
    if st is None:
        return False
    where = f"{path} on {host.name}"
    if not st.is_file:
        raise CuratorError(f"{where} exists and is not a regular file; remove it by hand")
    if st.size != resolved.size:
        raise CuratorError(
            f"{where} has {st.size} bytes but artifact {resolved.reference} "
            f"({resolved.digest}) has {resolved.size}; it is not this artifact. Check who "
            f"wrote it and remove it by hand"
        )
    recorded = _read_sidecar(host, path)
    if recorded is None:
        actual = _host_sha256(host, path)
        if actual != resolved.digest.removeprefix("sha256:"):
            raise CuratorError(
                f"{where} has sha256 {actual}, not {resolved.digest} of artifact "
                f"{resolved.reference}; it is not this artifact. Remove it by hand"
            )
        _write_sidecar(host, path, resolved)
        return True
    if recorded != resolved.digest.removeprefix("sha256:"):
        raise CuratorError(
            f"{where} is recorded with sha256 {recorded} ({sidecar_path(path)}), not "
            f"{resolved.digest} of artifact {resolved.reference}. Remove both by hand"
        )
    return True


def _read_sidecar(host: Host, path: str) -> str | None:
    sidecar = sidecar_path(path)
    if host.stat(sidecar) is None:
        return None
    text = b"".join(host.read_chunks(sidecar)).decode("ascii", "replace")
    return text.split(maxsplit=1)[0] if text.strip() else ""


def _write_sidecar(host: Host, path: str, resolved: ResolvedArtifact) -> None:
    """Write the digest record beside the blob, as a side file
    (:mod:`pulumi_vigo_vm.hostfile.side`): exclusively, over nothing but the same record."""
    line = f"{resolved.digest.removeprefix('sha256:')}  {posixpath.basename(path)}\n".encode()
    write_side(
        host, sidecar_path(path), line, _FILE_MODE, ours=line.__eq__,
        fix=f"remove it by hand; it is where artifact {resolved.reference}'s record goes",
    )  # fmt: skip


def _host_sha256(host: Host, path: str) -> str:
    """Hash on the host with ``sha256sum`` (no transfer); stream the bytes if it is missing."""
    try:
        result = host.run(["sha256sum", "--", path])
        return result.stdout.split(maxsplit=1)[0].lstrip("\\")
    except (HostError, IndexError):
        hasher = hashlib.sha256()
        for chunk in host.read_chunks(path):
            hasher.update(chunk)
        return hasher.hexdigest()
