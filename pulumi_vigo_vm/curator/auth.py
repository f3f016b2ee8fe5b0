"""Who a registry's credentials belong to, and how they are read and answered.

Why a module of its own: oras-py's auth is kept (its token dance, its reading of ``docker
login`` credentials) but needs three repairs, each a security or usability matter apart
from moving bytes: it takes every 401 for a Bearer challenge (a Basic one failed as
"unreachable"), it would answer a challenge from whatever host a redirect led to, and it
ignores ``$DOCKER_CONFIG``. :class:`RegistryAuth` and :func:`docker_config_logins` are those
repairs; :func:`origin` is the boundary the credentials never cross, which :mod:`.http`
also enforces on every URL it is asked to fetch.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any, TypeAlias

import oras.auth
import oras.container
import requests

from ..errors import CuratorError

__all__ = ["Origin", "RegistryAuth", "docker_config_logins", "install_auth", "origin"]

Origin: TypeAlias = tuple[str, str, int | None]
"""``(scheme, host, port)`` of a URL."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> Origin:
    """``(scheme, host, port)``, the default port made explicit: what credentials belong to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class RegistryAuth(oras.auth.TokenAuth):  # type: ignore[misc]
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
    origin: Origin = ("", "", None)
    logins_read = False

    def authenticate_request(
        self, original: requests.Response, headers: dict[str, str], refresh: bool = False
    ) -> tuple[dict[str, str], bool]:
        if origin(original.url) != self.origin:
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

    def read_logins(self, host: str, repository: str | None) -> None:
        """Read the docker/oras login credentials for ``host``, once, before the first
        request (oras-py keys them by host alone)."""
        if self.logins_read:
            return
        where = oras.container.Container(repository or "_catalog", registry=host)
        override = docker_config_logins()
        if override is not None:
            self._auth_config = override  # load_configs keeps a config already set
        self.load_configs(where)
        self.logins_read = True


def install_auth(registry: Any, registry_origin: Origin) -> RegistryAuth:
    """Put a :class:`RegistryAuth` for ``registry_origin`` in place of the auth of the
    ``oras.provider.Registry`` ``registry``, on the same session and settings."""
    auth = RegistryAuth()
    auth.session = registry.auth.session
    auth.prefix = registry.auth.prefix
    auth._tls_verify = registry.auth._tls_verify
    auth.origin = registry_origin
    registry.auth = auth
    return auth


def docker_config_logins() -> dict[str, Any] | None:
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
