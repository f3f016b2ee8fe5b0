"""HTTP to one registry: bounded in time and size, same-origin only, failures translated.

Transport and authentication come from ``oras`` (PyPI ``oras``, the ORAS project's Python
SDK): its session, its token/basic auth dance and its reading of ``docker login``
credentials. Its high-level ``push``/``pull``/``get_manifest`` do not fit and are not used:
``get_manifest`` returns parsed JSON (the artifact id is the sha256 of the exact bytes),
monolithic ``put_upload`` reads the whole blob into memory (a 2 GiB image must stream),
``pull`` writes local files (we stream to a hypervisor through ``Host``), and its request
wrapper retries connection errors with sleeps adding up to two minutes (``pulumi preview``
must say "registry down" at once). So the distribution-spec calls are made through oras's
un-retried request method, with a connect/read timeout on the session, an overall deadline
per request (:mod:`.deadline`) and a size limit on every body read whole.

Why a module of its own: :class:`RegistryTransport` is everything about *how* a request
reaches the registry and what may come back, so that :mod:`.registry` is left with *which*
distribution-spec request to make and what its answer means.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import oras.auth
import oras.provider
import requests

from ..errors import CuratorError, CuratorUnreachableError
from .auth import install_auth, origin
from .deadline import Watch, WatchedAdapter
from .store import MAX_METADATA_BYTES, Readable

__all__ = ["CHUNK", "Body", "RegistryTransport", "short"]

CHUNK = 1 << 20
"""Bytes a blob is streamed in, up or down."""
_METADATA_CHUNK = 64 << 10
# oras decorates do_request with a sleeping retry loop; the undecorated function is kept.
_do_request = getattr(
    oras.provider.Registry.do_request, "__wrapped__", oras.provider.Registry.do_request
)


class Body:
    """A sized, streamed request body: requests sends it in blocks and sets Content-Length."""

    def __init__(self, source: Readable, size: int) -> None:
        self._source, self._left = source, size

    def __len__(self) -> int:
        return self._left

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(CHUNK if n is None or n < 0 else n)
        self._left -= len(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(CHUNK), b"")


def _drop_redirect_body(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Close a redirect unread: requests would read its whole body only to discard it."""
    if response.is_redirect:
        response.raw.close()


class RegistryTransport:
    """Requests to the registry at ``scheme://host``, and only there.

    Every request is made within ``deadline`` seconds unless it is a blob transfer (see
    :meth:`fetch` and :meth:`open`), on connections with ``connect_timeout`` and
    ``idle_timeout``, following at most ``max_redirects`` redirects; every body read whole
    is refused past :data:`MAX_METADATA_BYTES`; credentials are read once and sent to the
    registry's own origin only. Every failure is a :class:`CuratorError` (an
    unreachable or too slow registry a :class:`CuratorUnreachableError`).
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        *,
        deadline: float,
        connect_timeout: float,
        idle_timeout: float,
        max_redirects: int,
    ) -> None:
        self.scheme, self.host = scheme, host
        self.deadline = deadline
        self.max_redirects = max_redirects
        self.origin = origin(f"{scheme}://{host}/")
        self._oras: Any = oras.provider.Registry(hostname=host, insecure=scheme == "http")
        self._auth = install_auth(self._oras, self.origin)
        session: requests.Session = self._oras.session
        session.max_redirects = max_redirects
        session.hooks["response"].append(_drop_redirect_body)
        adapter = WatchedAdapter(connect_timeout=connect_timeout, idle_timeout=idle_timeout)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    def fetch(
        self,
        method: str,
        url: str,
        repository: str | None,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        data: Any = None,
        timed: bool = True,
    ) -> tuple[requests.Response, bytes]:
        """One request and its whole body (at most MAX_METADATA_BYTES), all within the
        deadline unless not ``timed`` (an upload: its idle timeout bounds it).

        Returns any HTTP status to the caller; every failure is a CuratorError naming
        ``what``.
        """
        watch = Watch(self.deadline) if timed else None
        with contextlib.ExitStack() as stack:
            if watch is not None:
                stack.enter_context(watch.armed())
            with self._translated(method, url, what, watch):
                response = self._send(method, url, repository, what, headers, data)
                with response:
                    body = self._read_capped(response, what)
        return response, body

    @contextlib.contextmanager
    def open(self, url: str, repository: str, what: str) -> Iterator[requests.Response]:
        """A GET whose body is left to stream: the deadline covers getting the headers, the
        idle timeout each read of the body after that (a 2 GiB blob takes its time)."""
        watch = Watch(self.deadline)
        with watch.armed(), self._translated("GET", url, what, watch):
            response = self._send("GET", url, repository, what, None, None)
        with response:
            yield response

    def error_body(self, response: requests.Response, what: str) -> bytes:
        """The body of a streamed response that failed, bounded like any metadata."""
        watch = Watch(self.deadline)
        with watch.armed(), self._translated("GET", response.url, what, watch):
            body = self._read_capped(response, what)
        return body

    def _send(
        self,
        method: str,
        url: str,
        repository: str | None,
        what: str,
        headers: dict[str, str] | None,
        data: Any,
    ) -> requests.Response:
        if origin(url) != self.origin:
            raise CuratorError(
                f"curator registry {self.host}: {what} leads to {url}, which is not on "
                f"{self.scheme}://{self.host}; refusing to send the registry's credentials "
                f"to another origin. Fix the registry's configured external URL"
            )
        self._auth.read_logins(self.host, repository)
        headers = {**(headers or {}), **self._auth.basic_header()}
        response: requests.Response = _do_request(
            self._oras, url, method, data=data, headers=headers, stream=True
        )
        if response.status_code in (401, 403) and origin(response.url) != self.origin:
            response.close()
            raise CuratorError(
                f"curator registry {self.host}: {what} was redirected to {response.url}, "
                f"another origin reached by a redirect, which denied it (HTTP "
                f"{response.status_code}); credentials are only ever sent to the registry "
                f"itself. Fix the registry's redirect or its storage permissions"
            )
        if response.status_code in (401, 403):
            response.close()
            raise CuratorError(
                f"curator registry {self.host} denied {method} {urllib.parse.urlsplit(url).path}"
                f" (HTTP {response.status_code}); log in with `oras login {self.host}`"
            )
        return response

    @contextlib.contextmanager
    def _translated(self, method: str, url: str, what: str, watch: Watch | None) -> Iterator[None]:
        """Translate every failure of requests, urllib3 and oras into a CuratorError, once."""
        path = urllib.parse.urlsplit(url).path
        late = (
            f"curator registry {self.scheme}://{self.host}: {what} did not finish within "
            f"{watch.seconds if watch else 0:g} s ({method} {path}); the registry is overloaded "
            f"or misbehaving. Try again, or check vigo:curator"
        )
        try:
            yield
        except CuratorError:
            raise
        except Exception as exc:
            if watch is not None and watch.expired:
                raise CuratorUnreachableError(late) from exc
            raise self._translate(exc, method, path, what) from exc
        # A cut can also look like an answer that ended early (headers cut short, a body
        # without a length): what arrived after the deadline is never used.
        if watch is not None and watch.expired:
            raise CuratorUnreachableError(late)

    def _translate(self, exc: Exception, method: str, path: str, what: str) -> CuratorError:
        if isinstance(exc, requests.exceptions.SSLError):
            return CuratorError(
                f"curator registry {self.host}: TLS failed ({exc}); for a plain-HTTP registry "
                f"set vigo:curator to http://{self.host}"
            )
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return CuratorError(
                f"curator registry {self.host}: {what} was redirected more than "
                f"{self.max_redirects} times ({method} {path}), a redirect loop; the registry "
                f"or its storage is misconfigured"
            )
        if isinstance(
            exc,
            requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | requests.exceptions.ChunkedEncodingError,
        ):
            return CuratorUnreachableError(
                f"curator registry {self.scheme}://{self.host} is unreachable ({short(exc)}); "
                f"check vigo:curator and that the registry is running"
            )
        if isinstance(
            exc, ValueError | AttributeError | TypeError | oras.auth.AuthenticationException
        ) and not isinstance(exc, requests.exceptions.RequestException):
            # oras answering the auth challenge: no usable login, or a malformed challenge
            # or token response (oras reads those unchecked).
            return CuratorError(
                f"curator registry {self.host} refused authentication ({short(exc)}); log in "
                f"with `oras login {self.host}` or `docker login {self.host}`"
            )
        return CuratorError(
            f"curator registry {self.host}: {what} failed ({method} {path}: "
            f"{type(exc).__name__}: {short(exc)}); check the registry"
        )

    def _read_capped(self, response: requests.Response, what: str) -> bytes:
        """The whole body, refused as soon as it is known to exceed MAX_METADATA_BYTES."""
        declared = response.headers.get("Content-Length", "")
        body = bytearray()
        if not (declared.isdigit() and int(declared) > MAX_METADATA_BYTES):
            for chunk in response.iter_content(_METADATA_CHUNK):
                body += chunk
                if len(body) > MAX_METADATA_BYTES:
                    break
            else:
                return bytes(body)
        raise CuratorError(
            f"curator registry {self.host}: {what} sent more than {MAX_METADATA_BYTES} bytes "
            f"({response.url}; MAX_METADATA_BYTES is the limit); refusing it. That is no "
            f"manifest or listing: check the registry"
        )


def short(exc: BaseException) -> str:
    """The innermost reason of a requests error, not urllib3's three-line repr."""
    while exc.__context__ is not None and not isinstance(exc, OSError):
        exc = exc.__context__
    text = str(exc)
    return text.rsplit(": ", 1)[-1].strip("')\"") if len(text) > 120 else text
