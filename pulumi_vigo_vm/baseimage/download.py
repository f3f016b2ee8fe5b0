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
"""

from __future__ import annotations

import contextlib
import os
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from ..curator.deadline import WatchedAdapter
from ..curator.transport import short
from ..errors import ImageError

__all__ = ["CHUNK", "CONNECT_TIMEOUT_S", "MAX_REDIRECTS", "Opened", "ca_bundle", "open_source"]

CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 30.0
MAX_REDIRECTS = 10
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


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
def open_source(url: str, *, idle_timeout: float) -> Iterator[Opened]:
    """Open ``url`` for reading. Raises ImageError naming it when it cannot be had (no
    connection, an HTTP error status, a missing file); the chunks raise ImageError when
    the transfer breaks off or stalls for ``idle_timeout`` seconds."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        with _open_file(url, urllib.parse.unquote(parts.path)) as opened:
            yield opened
        return
    with _session(idle_timeout) as session, _get(session, url, idle_timeout) as response:
        length = response.headers.get("Content-Length", "")
        yield Opened(_body(response, url, idle_timeout), int(length) if length.isdigit() else None)


@contextlib.contextmanager
def _open_file(url: str, path: str) -> Iterator[Opened]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise ImageError(
            f"source {url}: cannot read {path} on the machine running the provider "
            f'({exc.strerror}); for a file on the hypervisor set fetch_on="host"'
        ) from exc
    with handle:
        yield Opened(iter(lambda: handle.read(CHUNK), b""), os.fstat(handle.fileno()).st_size)


@contextlib.contextmanager
def _session(idle_timeout: float) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.max_redirects = MAX_REDIRECTS
        adapter = WatchedAdapter(connect_timeout=CONNECT_TIMEOUT_S, idle_timeout=idle_timeout)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        yield session


@contextlib.contextmanager
def _get(session: requests.Session, url: str, idle_timeout: float) -> Iterator[requests.Response]:
    try:
        response = session.get(
            url, stream=True, verify=ca_bundle(), headers={"Accept-Encoding": "identity"}
        )
    except requests.exceptions.SSLError as exc:
        raise ImageError(
            f"source {url}: TLS verification failed ({short(exc)}); name the CA bundle in "
            "REQUESTS_CA_BUNDLE (or install the CA into the system store)"
        ) from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise ImageError(
            f"source {url}: more than {MAX_REDIRECTS} redirects (a loop?); fix the URL"
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise ImageError(
            f"source {url}: no answer within {CONNECT_TIMEOUT_S:g}s to connect or "
            f"{idle_timeout:g}s to respond (vigo:downloadIdleTimeoutS); check the URL, "
            "the server and HTTPS_PROXY/NO_PROXY"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise ImageError(
            f"source {url}: cannot connect ({short(exc)}); check the URL, the network and "
            "HTTPS_PROXY/NO_PROXY"
        ) from exc
    with response:
        if response.status_code >= 400:
            raise ImageError(
                f"source {url}: the server answered HTTP {response.status_code} "
                f"{response.reason}; check the URL"
            )
        yield response


def _body(response: requests.Response, url: str, idle_timeout: float) -> Iterator[bytes]:
    """The body as sent (no content decoding), failures translated once."""
    try:
        yield from response.raw.stream(CHUNK, decode_content=False)
    except Exception as exc:
        stalled = "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
        reason = (
            f"no data for {idle_timeout:g}s (vigo:downloadIdleTimeoutS)"
            if stalled
            else f"the transfer broke off ({short(exc)})"
        )
        raise ImageError(f"source {url}: {reason}; nothing was kept. Try again") from exc
