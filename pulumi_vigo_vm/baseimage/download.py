"""The published bytes of a source, streamed to the machine running the provider.

``https://`` and ``http://`` through ``requests``, with the connect and idle timeouts of
the curator's adapter (:class:`~pulumi_vigo_vm.curator.deadline.WatchedAdapter`): a
server that stops sending fails after the idle timeout, however long the whole transfer
takes. The bytes are the ones published: no ``Content-Encoding`` is undone (a ``.gz``
served with ``Content-Encoding: gzip`` would otherwise arrive decompressed and fail its
digest). ``file://`` reads a file of the machine running the provider.

Proxies and TLS as ``requests`` honours them from the environment: ``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``; the CA bundle named by ``REQUESTS_CA_BUNDLE``,
``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE`` (first set wins), else the system's store (the
OpenSSL default CA file, e.g. ``/etc/ssl/certs/ca-certificates.crt`` on Debian), else
certifi's.

Bounded: an http(s) transfer has an overall deadline besides the idle timeout (the
curator's :class:`~pulumi_vigo_vm.curator.deadline.Watch`: the connect and idle timeouts
for the headers, however slowly they drip, then the deadline from the size they tell; see
:mod:`.limits`), and a declared size beyond the cap is refused before
anything is read. A ``file://`` source must be a regular file: it is opened non-blocking
and checked with ``fstat`` before a byte is read (a FIFO would block the read forever, a
device would never end). Every message names the source as :func:`.urls.shown` shows it.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import stat
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from ..curator.deadline import Watch, WatchedAdapter
from ..curator.transport import short
from ..errors import ImageError
from .limits import Limits
from .urls import scrubbed, shown

__all__ = ["CHUNK", "MAX_REDIRECTS", "Opened", "ca_bundle", "open_source"]

CHUNK = 1 << 20
MAX_REDIRECTS = 10
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
_DEADLINE_FIX = (
    'The deadline is {why}: use a mirror closer to the runner (or fetch_on="host" on a '
    "hypervisor near it), or raise vigo:downloadIdleTimeoutS for a slow link"
)


@dataclass(frozen=True)
class Opened:
    """A source being read: its bytes in blocks, and its length when the server said it."""

    chunks: Iterator[bytes]
    length: int | None


def ca_bundle() -> str | bool:
    """The CA certificates TLS is verified against (see the module docstring)."""
    for variable in _CA_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and os.path.isfile(cafile) else True


@contextlib.contextmanager
def open_source(url: str, *, idle_timeout: float, limits: Limits) -> Iterator[Opened]:
    """Open ``url`` for reading. Raises ImageError naming it (redacted) when it cannot be
    had (no connection, an HTTP error status, a missing file or one that is not a regular
    file, a declared size beyond the cap); the chunks raise ImageError when the transfer
    breaks off, stalls for ``idle_timeout`` seconds or outlasts its deadline."""
    name = shown(url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        with _open_file(name, urllib.parse.unquote(parts.path)) as opened:
            limits.refuse_declared(opened.length, name)
            yield opened
        return
    watch = Watch(limits.headers_deadline(idle_timeout))
    with (
        watch.armed(),
        _session(limits.connect_timeout_s, idle_timeout) as session,
        _get(session, url, limits.connect_timeout_s, idle_timeout) as response,
    ):
        header = response.headers.get("Content-Length", "")
        length = int(header) if header.isdigit() else None
        limits.refuse_declared(length, name)
        watch.allow(limits.deadline(idle_timeout, length))
        yield Opened(_body(response, url, idle_timeout, watch, limits), length)


@contextlib.contextmanager
def _open_file(name: str, path: str) -> Iterator[Opened]:
    """A regular file, checked on the descriptor that is read (no window between the check
    and the read): O_NONBLOCK so that opening a FIFO returns at once instead of waiting for
    a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ImageError(
            f"source {name}: cannot read {path} on the machine running the provider "
            f'({exc.strerror}); for a file on the hypervisor set fetch_on="host"'
        ) from exc
    with open(fd, "rb") as handle:
        facts = os.fstat(fd)
        if not stat.S_ISREG(facts.st_mode):
            raise ImageError(
                f"source {name}: {path} is not a regular file (a FIFO, device, socket or "
                "directory would never end or never start); name the image file itself"
            )
        os.set_blocking(fd, True)
        yield Opened(iter(lambda: handle.read(CHUNK), b""), facts.st_size)


@contextlib.contextmanager
def _session(connect_timeout: float, idle_timeout: float) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.max_redirects = MAX_REDIRECTS
        adapter = WatchedAdapter(connect_timeout=connect_timeout, idle_timeout=idle_timeout)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        yield session


@contextlib.contextmanager
def _get(
    session: requests.Session, url: str, connect_timeout: float, idle_timeout: float
) -> Iterator[requests.Response]:
    name = shown(url)
    try:
        response = session.get(
            url, stream=True, verify=ca_bundle(), headers={"Accept-Encoding": "identity"}
        )
    except requests.exceptions.SSLError as exc:
        raise ImageError(
            f"source {name}: TLS verification failed ({scrubbed(short(exc), url)}); name the "
            "CA bundle in REQUESTS_CA_BUNDLE (or install the CA into the system store)"
        ) from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise ImageError(
            f"source {name}: more than {MAX_REDIRECTS} redirects (a loop?); fix the URL"
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise ImageError(
            f"source {name}: no answer within {connect_timeout:g}s to connect or "
            f"{idle_timeout:g}s to respond (vigo:downloadIdleTimeoutS); check the URL, "
            "the server and HTTPS_PROXY/NO_PROXY"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise ImageError(
            f"source {name}: cannot connect ({scrubbed(short(exc), url)}); check the URL, the "
            "network and HTTPS_PROXY/NO_PROXY"
        ) from exc
    with response:
        if response.status_code >= 400:
            raise ImageError(
                f"source {name}: the server answered HTTP {response.status_code} "
                f"{response.reason}; check the URL"
            )
        yield response


def _body(
    response: requests.Response, url: str, idle_timeout: float, watch: Watch, limits: Limits
) -> Iterator[bytes]:
    """The body as sent (no content decoding), failures translated once: the deadline
    (``watch`` cut the socket), a stall, or a break."""
    received = 0
    try:
        for chunk in response.raw.stream(CHUNK, decode_content=False):
            received += len(chunk)
            yield chunk
    except Exception as exc:
        if watch.expired:
            reason = f"did not finish within {watch.seconds:.0f}s ({received} bytes arrived)"
            fix = _DEADLINE_FIX.format(why=limits.why_deadline())
        elif "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower():
            reason, fix = f"no data for {idle_timeout:g}s (vigo:downloadIdleTimeoutS)", "Try again"
        else:
            reason, fix = f"the transfer broke off ({scrubbed(short(exc), url)})", "Try again"
        raise ImageError(f"source {shown(url)}: {reason}; nothing was kept. {fix}") from exc
    if watch.expired:  # the cut may look like a clean end to a body of unknown length
        raise ImageError(
            f"source {shown(url)}: did not finish within {watch.seconds:.0f}s ({received} bytes "
            f"arrived); nothing was kept. {_DEADLINE_FIX.format(why=limits.why_deadline())}"
        )
