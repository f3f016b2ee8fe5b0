"""An OCI distribution registry as a curator, over HTTP(S): the store's operations.

:class:`RegistryStore` is the :class:`~.store.ArtifactStore` of a registry: which
distribution-spec request each operation makes (resolve a tag, read a manifest, stream a
blob, push, list the catalog and tags) and what its answer means. How a request gets
there (deadlines, size limits, same-origin, failures as :class:`CuratorError`) is
:mod:`.transport`'s job, over :mod:`.deadline` and :mod:`.auth`; this module holds the
numbers it is given.

A bare ``host[:port]`` is HTTPS, except loopback (localhost, 127.0.0.0/8, ::1) which is
plain HTTP as in Docker; ``http://`` or ``https://`` in front says so explicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import urllib.parse
from collections.abc import Iterator

import requests

from ..errors import CuratorError
from .manifest import MANIFEST_MEDIA_TYPE, check_digest, load_json_object
from .store import Readable
from .transport import CHUNK, Body, RegistryTransport, short

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


class RegistryStore:
    """A distribution-spec registry (Docker's ``registry``, Harbor, Zot, GHCR, ...).

    Every request but a blob download or upload is bounded in time (``deadline``, default
    :data:`METADATA_DEADLINE`) and every body read whole is bounded in size
    (:data:`~.store.MAX_METADATA_BYTES`); blobs are streamed and bounded by
    :data:`IDLE_TIMEOUT`. Requests go only to the registry's own origin: a URL it names
    elsewhere (a ``Link`` page, an upload ``Location``) is refused, as credentials go with
    every request.
    """

    def __init__(self, curator: str, *, deadline: float = METADATA_DEADLINE) -> None:
        self._location = curator
        self._scheme, self._host = parse_registry_location(curator)
        self._http = RegistryTransport(
            self._scheme,
            self._host,
            deadline=deadline,
            connect_timeout=CONNECT_TIMEOUT,
            idle_timeout=IDLE_TIMEOUT,
            max_redirects=MAX_REDIRECTS,
        )

    @property
    def location(self) -> str:
        return self._location

    def _url(self, repository: str, tail: str) -> str:
        return f"{self._scheme}://{self._host}/v2/{repository}/{tail}"

    def _blob_url(self, repository: str, digest: str) -> str:
        """A blob's URL; the digest is checked first, as it becomes part of the URL path."""
        check_digest(f"curator registry {self._host}: {repository}", digest)
        return self._url(repository, f"blobs/{digest}")

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
        response, data = self._http.fetch("GET", url, repository, what, headers={"Accept": _ACCEPT})
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
        with self._http.open(self._blob_url(repository, digest), repository, what) as response:
            if response.status_code != 200:
                raise self._fail(response, self._http.error_body(response, what), what)
            yield self._chunks(response, digest)

    def _chunks(self, response: requests.Response, digest: str) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK)
        except requests.exceptions.RequestException as exc:
            raise CuratorError(
                f"curator registry {self._host}: download of {digest} broke off ({short(exc)}; "
                f"no byte for {IDLE_TIMEOUT:g} s ends it too); try again"
            ) from exc

    def has_blob(self, repository: str, digest: str) -> bool:
        what = f"checking for blob {digest} of {repository}"
        response, _ = self._http.fetch("HEAD", self._blob_url(repository, digest), repository, what)
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
            response, body = self._http.fetch("GET", next_url, repository, what)
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
        url = self._url(repository, "blobs/uploads/")
        start, body = self._http.fetch("POST", url, repository, what)
        location = start.headers.get("Location")
        if start.status_code != 202 or not location:
            raise self._fail(start, body, what)
        url = urllib.parse.urljoin(start.url, location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        what = f"uploading blob {digest}"
        headers = {"Content-Type": "application/octet-stream"}
        done, body = self._http.fetch(
            "PUT", url, repository, what, headers=headers, data=Body(source, size), timed=False
        )
        if done.status_code not in (201, 204):
            raise self._fail(done, body, what)

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        what = f"tagging {repository}:{tag}"
        url = self._url(repository, f"manifests/{tag}")
        headers = {"Content-Type": media_type}
        response, body = self._http.fetch("PUT", url, repository, what, headers=headers, data=data)
        if response.status_code not in (200, 201):
            raise self._fail(response, body, what)
