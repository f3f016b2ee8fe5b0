"""An OCI distribution registry as a curator, over HTTP(S).

Transport and authentication come from ``oras`` (PyPI ``oras``, the ORAS project's Python
SDK): its session, its token/basic auth dance and its reading of ``docker login``
credentials. Its high-level ``push``/``pull``/``get_manifest`` do not fit and are not used:
``get_manifest`` returns parsed JSON (the artifact id is the sha256 of the exact bytes),
monolithic ``put_upload`` reads the whole blob into memory (a 2 GiB image must stream),
``pull`` writes local files (we stream to a hypervisor through ``Host``), and its request
wrapper retries connection errors with sleeps adding up to two minutes (``pulumi preview``
must say "registry down" at once). So the distribution-spec calls below are made through
oras's un-retried request method, with a connect/read timeout on the session, an overall
deadline per request and a size limit on every body read whole.

A bare ``host[:port]`` is HTTPS, except loopback (localhost, 127.0.0.0/8, ::1) which is
plain HTTP as in Docker; ``http://`` or ``https://`` in front says so explicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import oras.auth
import oras.container
import oras.provider
import requests
import requests.adapters
import urllib3
import urllib3.connection

from ..errors import CuratorError, CuratorUnreachableError
from .manifest import MANIFEST_MEDIA_TYPE, check_digest, load_json_object
from .store import MAX_METADATA_BYTES, Readable

__all__ = [
    "CONNECT_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_REDIRECTS",
    "METADATA_DEADLINE",
    "RegistryStore",
    "parse_registry_location",
]

_ACCEPT = ", ".join(
    [
        MANIFEST_MEDIA_TYPE,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
_CHUNK = 1 << 20
_METADATA_CHUNK = 64 << 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
_RECUT = 0.25  # seconds between cuts of a request whose deadline has passed
_DETAIL = 300  # characters of a registry's error text quoted in a message

#: Seconds to wait for a TCP (and TLS) connection to the registry.
CONNECT_TIMEOUT = 5.0
#: Seconds any read may wait for its next byte, blob downloads and uploads included.
IDLE_TIMEOUT = 60.0
#: Seconds one request other than a blob transfer (manifest, listing page, upload start;
#: the headers of a blob download) may take in all, however steadily the registry drips:
#: ``pulumi preview`` resolves through these, and must fail instead of hanging.
METADATA_DEADLINE = 30.0
#: Redirects followed per request; more is a loop (requests' own default is 30).
MAX_REDIRECTS = 5
# oras decorates do_request with a sleeping retry loop; the undecorated function is kept.
_do_request = getattr(
    oras.provider.Registry.do_request, "__wrapped__", oras.provider.Registry.do_request
)


def parse_registry_location(curator: str) -> tuple[str, str]:
    """``(scheme, host[:port])`` for a registry curator string."""
    text = curator.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme not in ("http", "https"):
            raise CuratorError(f"curator {curator!r}: scheme must be http:// or https://")
        hostport = rest
    else:
        hostport = text
    if not hostport or "/" in hostport or any(c.isspace() for c in hostport):
        raise CuratorError(
            f"curator {curator!r} is neither a layout directory (absolute or ./ path) nor a "
            f"registry host[:port]"
        )
    if not sep:
        scheme = "http" if _is_loopback(hostport) else "https"
    return scheme, hostport


def _is_loopback(hostport: str) -> bool:
    host = hostport
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Watch:
    """An overall deadline for one request, however steadily its server drips bytes.

    A socket timeout bounds each read, not their sum: a registry sending a byte a second
    never trips it. While a watch is armed on a thread, every socket that thread's requests
    use is recorded (a pooled one when urllib3 hands its connection out, a new one when it
    connects; see :class:`_WatchedHTTPPool`). Once the deadline passes they are shut down,
    and again every :data:`_RECUT` seconds until the watch is disarmed (a socket connected
    after expiry is cut too), which ends a blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="curator-deadline", daemon=True)

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while True:
            with self._lock:
                for sock in self._sockets:
                    with contextlib.suppress(OSError):
                        # socket.socket's own shutdown: an SSLSocket's would also drop its
                        # TLS state under the reading thread's feet.
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if self._done.wait(_RECUT):
                return

    @contextlib.contextmanager
    def armed(self) -> Iterator[_Watch]:
        """Watch the requests this thread makes inside the block."""
        _current.watch = self
        self._thread.start()
        try:
            yield self
        finally:
            _current.watch = None
            self._done.set()


_current = threading.local()


def _watch_socket(sock: socket.socket | None) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """Shows each socket it connects to the thread's :class:`_Watch`."""

    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """The HTTPS twin of :class:`_WatchedHTTPConnection`."""

    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    """A pool whose connections are watched, the pooled ones as they are handed out."""

    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _watch_socket(getattr(conn, "sock", None))
        return conn


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    """The HTTPS twin of :class:`_WatchedHTTPPool`."""

    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _watch_socket(getattr(conn, "sock", None))
        return conn


class _Adapter(requests.adapters.HTTPAdapter):
    """Every request gets connect and idle timeouts (oras's session sets none, and a hung
    registry must fail), and its connections are watched for the overall deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=(CONNECT_TIMEOUT, IDLE_TIMEOUT) if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _drop_redirect_body(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Close a redirect unread: requests would read its whole body only to discard it."""
    if response.is_redirect:
        response.raw.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)``, the default port made explicit: what credentials belong to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class _Auth(oras.auth.TokenAuth):  # type: ignore[misc]
    """oras's token auth, answering an HTTP Basic challenge too.

    ``TokenAuth`` takes every 401 for a Bearer challenge and fetches a token from its realm;
    ``Www-Authenticate: Basic realm="..."`` (distribution's htpasswd, Zot, Nexus) has a label
    there, not a URL, so logged in it failed as "unreachable" (oras-py issue #85). Once the
    registry asked for Basic, the login goes with every request: a streamed upload body
    must not be spent on a 401.

    Only the registry's own origin is answered: a 401 from a host a redirect led to must
    not get the login, nor pick the token realm the login is sent to.
    """

    basic = False
    origin: tuple[str, str, int | None] = ("", "", None)

    def authenticate_request(
        self, original: requests.Response, headers: dict[str, str], refresh: bool = False
    ) -> tuple[dict[str, str], bool]:
        if _origin(original.url) != self.origin:
            raise CuratorError(
                f"curator registry {self.origin[1]}: {original.url}, another origin reached by "
                f"a redirect, asked for credentials (HTTP {original.status_code}); they are only "
                f"ever sent to the registry itself. Fix the registry's redirect or its storage "
                f"permissions"
            )
        challenge = original.headers.get("Www-Authenticate", "")
        if challenge.partition(" ")[0].lower() != "basic":
            result: tuple[dict[str, str], bool] = super().authenticate_request(
                original, headers, refresh
            )
            return result
        self.basic = True
        login = self.basic_header()
        return {**(headers or {}), **login}, bool(login)

    def basic_header(self) -> dict[str, str]:
        """The Basic login to send unasked, once the registry has asked for it."""
        login = getattr(self, "_basic_auth", None)
        return {"Authorization": f"Basic {login}"} if self.basic and login else {}


def _docker_config_logins() -> dict[str, Any] | None:
    """The logins in ``$DOCKER_CONFIG/config.json`` when that variable is set, as docker and
    oras (Go) read them; None to let oras-py read its default, ``~/.docker/config.json``.

    oras-py ignores ``$DOCKER_CONFIG``, which CI jobs commonly set for ``docker login``.
    """
    directory = os.environ.get("DOCKER_CONFIG")
    if not directory:
        return None
    path = os.path.join(directory, "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        raise CuratorError(
            f"cannot read registry logins from {path} ($DOCKER_CONFIG): {exc}"
        ) from exc
    return {
        "auths": config.get("auths", {}),
        "credsStore": config.get("credsStore"),
        "credHelpers": config.get("credHelpers", {}),
    }


class _Body:
    """A sized, streamed request body: requests sends it in blocks and sets Content-Length."""

    def __init__(self, source: Readable, size: int) -> None:
        self._source, self._left = source, size

    def __len__(self) -> int:
        return self._left

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(_CHUNK if n is None or n < 0 else n)
        self._left -= len(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(_CHUNK), b"")


class RegistryStore:
    """A distribution-spec registry (Docker's ``registry``, Harbor, Zot, GHCR, ...).

    Every request but a blob download or upload is bounded in time (``deadline``, default
    :data:`METADATA_DEADLINE`) and every body read whole is bounded in size
    (:data:`MAX_METADATA_BYTES`); blobs are streamed and bounded by :data:`IDLE_TIMEOUT`.
    Requests go only to the registry's own origin: a URL it names elsewhere (a ``Link``
    page, an upload ``Location``) is refused, as credentials go with every request.
    """

    def __init__(self, curator: str, *, deadline: float = METADATA_DEADLINE) -> None:
        self._location = curator
        self._deadline = deadline
        self._scheme, self._host = parse_registry_location(curator)
        self._origin = _origin(f"{self._scheme}://{self._host}/")
        self._oras: Any = oras.provider.Registry(
            hostname=self._host, insecure=self._scheme == "http"
        )
        self._auth = _Auth()
        self._auth.session = self._oras.auth.session
        self._auth.prefix = self._oras.auth.prefix
        self._auth._tls_verify = self._oras.auth._tls_verify
        self._auth.origin = self._origin
        self._oras.auth = self._auth
        session: requests.Session = self._oras.session
        session.max_redirects = MAX_REDIRECTS
        session.hooks["response"].append(_drop_redirect_body)
        adapter = _Adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._logins_read = False

    @property
    def location(self) -> str:
        return self._location

    # -- HTTP ----------------------------------------------------------------------------

    def _url(self, repository: str, tail: str) -> str:
        return f"{self._scheme}://{self._host}/v2/{repository}/{tail}"

    def _blob_url(self, repository: str, digest: str) -> str:
        """A blob's URL; the digest is checked first, as it becomes part of the URL path."""
        check_digest(f"curator registry {self._host}: {repository}", digest)
        return self._url(repository, f"blobs/{digest}")

    def _fetch(
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
        store's deadline unless not ``timed`` (an upload: its idle timeout bounds it).

        Returns any HTTP status to the caller; every failure is a CuratorError naming
        ``what``.
        """
        watch = _Watch(self._deadline) if timed else None
        with contextlib.ExitStack() as stack:
            if watch is not None:
                stack.enter_context(watch.armed())
            with self._translated(method, url, what, watch):
                response = self._send(method, url, repository, what, headers, data)
                with response:
                    body = self._read_capped(response, what)
        return response, body

    @contextlib.contextmanager
    def _open(self, url: str, repository: str, what: str) -> Iterator[requests.Response]:
        """A GET whose body is left to stream: the deadline covers getting the headers, the
        idle timeout each read of the body after that (a 2 GiB blob takes its time)."""
        watch = _Watch(self._deadline)
        with watch.armed(), self._translated("GET", url, what, watch):
            response = self._send("GET", url, repository, what, None, None)
        with response:
            yield response

    def _send(
        self,
        method: str,
        url: str,
        repository: str | None,
        what: str,
        headers: dict[str, str] | None,
        data: Any,
    ) -> requests.Response:
        if _origin(url) != self._origin:
            raise CuratorError(
                f"curator registry {self._host}: {what} leads to {url}, which is not on "
                f"{self._scheme}://{self._host}; refusing to send the registry's credentials "
                f"to another origin. Fix the registry's configured external URL"
            )
        if not self._logins_read:
            # docker/oras login credentials for this host (oras-py keys them by host alone).
            where = oras.container.Container(repository or "_catalog", registry=self._host)
            override = _docker_config_logins()
            if override is not None:
                self._auth._auth_config = override  # load_configs keeps a config already set
            self._auth.load_configs(where)
            self._logins_read = True
        headers = {**(headers or {}), **self._auth.basic_header()}
        response: requests.Response = _do_request(
            self._oras, url, method, data=data, headers=headers, stream=True
        )
        if response.status_code in (401, 403) and _origin(response.url) != self._origin:
            response.close()
            raise CuratorError(
                f"curator registry {self._host}: {what} was redirected to {response.url}, "
                f"another origin reached by a redirect, which denied it (HTTP "
                f"{response.status_code}); credentials are only ever sent to the registry "
                f"itself. Fix the registry's redirect or its storage permissions"
            )
        if response.status_code in (401, 403):
            response.close()
            raise CuratorError(
                f"curator registry {self._host} denied {method} {urllib.parse.urlsplit(url).path}"
                f" (HTTP {response.status_code}); log in with `oras login {self._host}`"
            )
        return response

    @contextlib.contextmanager
    def _translated(self, method: str, url: str, what: str, watch: _Watch | None) -> Iterator[None]:
        """Translate every failure of requests, urllib3 and oras into a CuratorError, once."""
        path = urllib.parse.urlsplit(url).path
        late = (
            f"curator registry {self._scheme}://{self._host}: {what} did not finish within "
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
                f"curator registry {self._host}: TLS failed ({exc}); for a plain-HTTP registry "
                f"set vigo:curator to http://{self._host}"
            )
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return CuratorError(
                f"curator registry {self._host}: {what} was redirected more than "
                f"{MAX_REDIRECTS} times ({method} {path}), a redirect loop; the registry or "
                f"its storage is misconfigured"
            )
        if isinstance(
            exc,
            requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | requests.exceptions.ChunkedEncodingError,
        ):
            return CuratorUnreachableError(
                f"curator registry {self._scheme}://{self._host} is unreachable ({_short(exc)}); "
                f"check vigo:curator and that the registry is running"
            )
        if isinstance(
            exc, ValueError | AttributeError | TypeError | oras.auth.AuthenticationException
        ) and not isinstance(exc, requests.exceptions.RequestException):
            # oras answering the auth challenge: no usable login, or a malformed challenge
            # or token response (oras reads those unchecked).
            return CuratorError(
                f"curator registry {self._host} refused authentication ({_short(exc)}); log in "
                f"with `oras login {self._host}` or `docker login {self._host}`"
            )
        return CuratorError(
            f"curator registry {self._host}: {what} failed ({method} {path}: "
            f"{type(exc).__name__}: {_short(exc)}); check the registry"
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
            f"curator registry {self._host}: {what} sent more than {MAX_METADATA_BYTES} bytes "
            f"({response.url}; MAX_METADATA_BYTES is the limit); refusing it. That is no "
            f"manifest or listing: check the registry"
        )

    def _fail(self, response: requests.Response, body: bytes, what: str) -> CuratorError:
        detail = response.reason
        with contextlib.suppress(CuratorError):
            errors = load_json_object(what, body, "error").get("errors")
            if isinstance(errors, list):
                messages = (e.get("message", e) if isinstance(e, dict) else e for e in errors)
                detail = "; ".join(str(m) for m in messages)[:_DETAIL] or detail
        return CuratorError(
            f"curator registry {self._host}: {what} failed (HTTP {response.status_code}: {detail})"
        )

    # -- reading -------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> bytes | None:
        what = f"fetching manifest {repository}:{reference}"
        if reference.startswith("sha256:"):
            check_digest(f"curator registry {self._host}: {repository}", reference)
        url = self._url(repository, f"manifests/{reference}")
        response, data = self._fetch("GET", url, repository, what, headers={"Accept": _ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, data, what)
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        claimed = reference if reference.startswith("sha256:") else None
        claimed = claimed or response.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != actual:
            raise CuratorError(
                f"curator registry {self._host}: manifest {repository}:{reference} has digest "
                f"{actual}, but {claimed[:80]} was announced; refusing it"
            )
        return data

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        what = f"fetching blob {digest} of {repository}"
        with self._open(self._blob_url(repository, digest), repository, what) as response:
            if response.status_code != 200:
                raise self._fail(response, self._error_body(response, what), what)
            yield self._chunks(response, digest)

    def _error_body(self, response: requests.Response, what: str) -> bytes:
        """The body of a streamed response that failed, bounded like any metadata."""
        watch = _Watch(self._deadline)
        with watch.armed(), self._translated("GET", response.url, what, watch):
            body = self._read_capped(response, what)
        return body

    def _chunks(self, response: requests.Response, digest: str) -> Iterator[bytes]:
        try:
            yield from response.iter_content(_CHUNK)
        except requests.exceptions.RequestException as exc:
            raise CuratorError(
                f"curator registry {self._host}: download of {digest} broke off ({_short(exc)}; "
                f"no byte for {IDLE_TIMEOUT:g} s ends it too); try again"
            ) from exc

    def has_blob(self, repository: str, digest: str) -> bool:
        what = f"checking for blob {digest} of {repository}"
        response, _ = self._fetch("HEAD", self._blob_url(repository, digest), repository, what)
        return response.status_code == 200

    def repositories(self) -> list[str]:
        return self._listing(
            f"{self._scheme}://{self._host}/v2/_catalog?n=1000",
            None,
            "repositories",
            "listing repositories (_catalog)",
        )

    def tags(self, repository: str) -> list[str]:
        return self._listing(
            self._url(repository, "tags/list?n=1000"),
            repository,
            "tags",
            f"listing tags of {repository}",
        )

    def _listing(self, url: str, repository: str | None, key: str, what: str) -> list[str]:
        """Every page of a ``_catalog`` or ``tags/list``, following ``Link: rel="next"``
        on the registry's own origin only; [] when the repository does not exist."""
        found: list[str] = []
        next_url: str | None = url
        while next_url:
            response, body = self._fetch("GET", next_url, repository, what)
            if response.status_code == 404 and repository is not None:
                return []
            if response.status_code != 200:
                raise self._fail(response, body, what)
            names = load_json_object(f"curator registry {self._host}: {what}", body, "listing")
            page = names.get(key) or []
            if not isinstance(page, list) or not all(isinstance(name, str) for name in page):
                raise CuratorError(
                    f"curator registry {self._host}: {what} answered a {key!r} that is not a "
                    f"list of strings; refusing it. Check the registry"
                )
            found.extend(page)
            link = response.links.get("next", {}).get("url")
            next_url = urllib.parse.urljoin(next_url, link) if link else None
            what = f"{what.removesuffix(' (next page)')} (next page)"
        return sorted(found)

    # -- writing -------------------------------------------------------------------------

    def put_blob(self, repository: str, digest: str, size: int, source: Readable) -> None:
        what = f"starting the upload of {digest}"
        start, body = self._fetch("POST", self._url(repository, "blobs/uploads/"), repository, what)
        location = start.headers.get("Location")
        if start.status_code != 202 or not location:
            raise self._fail(start, body, what)
        url = urllib.parse.urljoin(start.url, location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        what = f"uploading blob {digest}"
        headers = {"Content-Type": "application/octet-stream"}
        done, body = self._fetch(
            "PUT", url, repository, what, headers=headers, data=_Body(source, size), timed=False
        )
        if done.status_code not in (201, 204):
            raise self._fail(done, body, what)

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        what = f"tagging {repository}:{tag}"
        url = self._url(repository, f"manifests/{tag}")
        headers = {"Content-Type": media_type}
        response, body = self._fetch("PUT", url, repository, what, headers=headers, data=data)
        if response.status_code not in (200, 201):
            raise self._fail(response, body, what)


def _short(exc: BaseException) -> str:
    """The innermost reason of a requests error, not urllib3's three-line repr."""
    while exc.__context__ is not None and not isinstance(exc, OSError):
        exc = exc.__context__
    text = str(exc)
    return text.rsplit(": ", 1)[-1].strip("')\"") if len(text) > 120 else text
