"""An OCI distribution registry as a curator, over HTTP(S).

Transport and authentication come from ``oras`` (PyPI ``oras``, the ORAS project's Python
SDK): its session, its token/basic auth dance and its reading of ``docker login``
credentials. Its high-level ``push``/``pull``/``get_manifest`` do not fit and are not used:
``get_manifest`` returns parsed JSON (the artifact id is the sha256 of the exact bytes),
monolithic ``put_upload`` reads the whole blob into memory (a 2 GiB image must stream),
``pull`` writes local files (we stream to a hypervisor through ``Host``), and its request
wrapper retries connection errors with sleeps adding up to two minutes (``pulumi preview``
must say "registry down" at once). So the distribution-spec calls below are made through
oras's un-retried request method, with a connect/read timeout on the session.

A bare ``host[:port]`` is HTTPS, except loopback (localhost, 127.0.0.0/8, ::1) which is
plain HTTP as in Docker; ``http://`` or ``https://`` in front says so explicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import oras.auth
import oras.container
import oras.provider
import requests
import requests.adapters

from ..errors import CuratorError, CuratorUnreachableError
from .manifest import MANIFEST_MEDIA_TYPE
from .store import Readable

__all__ = ["RegistryStore", "parse_registry_location"]

_ACCEPT = ", ".join(
    [
        MANIFEST_MEDIA_TYPE,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
_CHUNK = 1 << 20
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


class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Give every request a timeout: oras's session sets none, and a hung registry must fail."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

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
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class _Auth(oras.auth.TokenAuth):  # type: ignore[misc]
    """oras's token auth, answering an HTTP Basic challenge too.

    ``TokenAuth`` takes every 401 for a Bearer challenge and fetches a token from its realm;
    ``Www-Authenticate: Basic realm="..."`` (distribution's htpasswd, Zot, Nexus) has a label
    there, not a URL, so logged in it failed as "unreachable" (oras-py issue #85). Once the
    registry asked for Basic, the login goes with every request: a streamed upload body
    must not be spent on a 401.
    """

    basic = False

    def authenticate_request(
        self, original: requests.Response, headers: dict[str, str], refresh: bool = False
    ) -> tuple[dict[str, str], bool]:
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
    """A distribution-spec registry (Docker's ``registry``, Harbor, Zot, GHCR, ...)."""

    def __init__(self, curator: str, *, timeout: tuple[float, float] = (5.0, 60.0)) -> None:
        self._location = curator
        self._scheme, self._host = parse_registry_location(curator)
        self._oras: Any = oras.provider.Registry(
            hostname=self._host, insecure=self._scheme == "http"
        )
        self._auth = _Auth()
        self._auth.session = self._oras.auth.session
        self._auth.prefix = self._oras.auth.prefix
        self._auth._tls_verify = self._oras.auth._tls_verify
        self._oras.auth = self._auth
        adapter = _TimeoutAdapter(timeout)
        self._oras.session.mount("http://", adapter)
        self._oras.session.mount("https://", adapter)
        self._logins_read = False

    @property
    def location(self) -> str:
        return self._location

    # -- HTTP ----------------------------------------------------------------------------

    def _url(self, repository: str, tail: str) -> str:
        return f"{self._scheme}://{self._host}/v2/{repository}/{tail}"

    def _request(
        self,
        method: str,
        url: str,
        repository: str | None,
        *,
        headers: dict[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request, errors translated here once. Returns any HTTP status to the caller."""
        if not self._logins_read:
            # docker/oras login credentials for this host (oras-py keys them by host alone).
            where = oras.container.Container(repository or "_catalog", registry=self._host)
            override = _docker_config_logins()
            if override is not None:
                self._auth._auth_config = override  # load_configs keeps a config already set
            self._auth.load_configs(where)
            self._logins_read = True
        headers = {**(headers or {}), **self._auth.basic_header()}
        try:
            response: requests.Response = _do_request(
                self._oras, url, method, data=data, headers=headers, stream=stream
            )
        except requests.exceptions.SSLError as exc:
            raise CuratorError(
                f"curator registry {self._host}: TLS failed ({exc}); for a plain-HTTP registry "
                f"set vigo:curator to http://{self._host}"
            ) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise CuratorUnreachableError(
                f"curator registry {self._scheme}://{self._host} is unreachable ({_short(exc)}); "
                f"check vigo:curator and that the registry is running"
            ) from exc
        except (ValueError, oras.auth.AuthenticationException) as exc:
            raise CuratorError(
                f"curator registry {self._host} refused authentication ({exc}); log in with "
                f"`oras login {self._host}` or `docker login {self._host}`"
            ) from exc
        if response.status_code in (401, 403):
            raise CuratorError(
                f"curator registry {self._host} denied {method} {urllib.parse.urlsplit(url).path}"
                f" (HTTP {response.status_code}); log in with `oras login {self._host}`"
            )
        return response

    def _fail(self, response: requests.Response, what: str) -> CuratorError:
        detail = response.reason
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            errors = response.json().get("errors") or []
            detail = "; ".join(str(e.get("message", e)) for e in errors) or detail
        return CuratorError(
            f"curator registry {self._host}: {what} failed (HTTP {response.status_code}: {detail})"
        )

    # -- reading -------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> bytes | None:
        url = self._url(repository, f"manifests/{reference}")
        response = self._request("GET", url, repository, headers={"Accept": _ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"fetching manifest {repository}:{reference}")
        data = response.content
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        claimed = reference if reference.startswith("sha256:") else None
        claimed = claimed or response.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != actual:
            raise CuratorError(
                f"curator registry {self._host}: manifest {repository}:{reference} has digest "
                f"{actual}, but {claimed} was announced; refusing it"
            )
        return data

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        url = self._url(repository, f"blobs/{digest}")
        response = self._request("GET", url, repository, stream=True)
        with response:
            if response.status_code != 200:
                raise self._fail(response, f"fetching blob {digest} of {repository}")
            yield self._chunks(response, digest)

    def _chunks(self, response: requests.Response, digest: str) -> Iterator[bytes]:
        try:
            yield from response.iter_content(_CHUNK)
        except requests.exceptions.RequestException as exc:
            raise CuratorError(
                f"curator registry {self._host}: download of {digest} broke off ({_short(exc)})"
            ) from exc

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", self._url(repository, f"blobs/{digest}"), repository)
        return response.status_code == 200

    def repositories(self) -> list[str]:
        found: list[str] = []
        url: str | None = f"{self._scheme}://{self._host}/v2/_catalog?n=1000"
        while url:
            response = self._request("GET", url, None)
            if response.status_code != 200:
                raise self._fail(response, "listing repositories (_catalog)")
            found.extend(response.json().get("repositories") or [])
            url = self._next(response, url)
        return sorted(found)

    def tags(self, repository: str) -> list[str]:
        found: list[str] = []
        url: str | None = self._url(repository, "tags/list?n=1000")
        while url:
            response = self._request("GET", url, repository)
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise self._fail(response, f"listing tags of {repository}")
            found.extend(response.json().get("tags") or [])
            url = self._next(response, url)
        return sorted(found)

    @staticmethod
    def _next(response: requests.Response, url: str) -> str | None:
        link = response.links.get("next", {}).get("url")
        return urllib.parse.urljoin(url, link) if link else None

    # -- writing -------------------------------------------------------------------------

    def put_blob(self, repository: str, digest: str, size: int, source: Readable) -> None:
        start = self._request("POST", self._url(repository, "blobs/uploads/"), repository)
        location = start.headers.get("Location")
        if start.status_code != 202 or not location:
            raise self._fail(start, f"starting the upload of {digest}")
        url = urllib.parse.urljoin(start.url, location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        done = self._request("PUT", url, repository, headers=headers, data=_Body(source, size))
        if done.status_code not in (201, 204):
            raise self._fail(done, f"uploading blob {digest}")

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        url = self._url(repository, f"manifests/{tag}")
        headers = {"Content-Type": media_type}
        response = self._request("PUT", url, repository, headers=headers, data=data)
        if response.status_code not in (200, 201):
            raise self._fail(response, f"tagging {repository}:{tag}")


def _short(exc: BaseException) -> str:
    """The innermost reason of a requests error, not urllib3's three-line repr."""
    while exc.__context__ is not None and not isinstance(exc, OSError):
        exc = exc.__context__
    text = str(exc)
    return text.rsplit(": ", 1)[-1].strip("')\"") if len(text) > 120 else text
