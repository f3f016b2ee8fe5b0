"""LibvirtUri: a libvirt connection URI, parsed once. Pure: no I/O.

A URI such as ``qemu+ssh://root@hv1:2222/system?keyfile=/k`` says which daemon libvirt
reaches (driver ``qemu``, path ``/system``), through what (transport ``ssh``), as whom and
where, and with which options of libvirt's remote driver (``keyfile``, ``known_hosts``,
``proxy``, ``socket``, ``netcat``, ``name``, ``no_verify``...). Every module that needs a
part of it reads this value instead of splitting the text itself:

* :meth:`LibvirtUri.parse` is the ``uri`` input's validator: only the URIs this provider
  supports, each refusal a ``ValueError`` whose reason never echoes a password;
* :meth:`LibvirtUri.read` takes any URI apart without judging it (hosts, the SSH target and
  the tunnel decide themselves what they support);
* :meth:`LibvirtUri.redacted` is the one form of a URI that messages show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .numbers import shown

__all__ = ["DEFAULT_URI", "PATHS", "PROXIES", "SCHEMES", "LibvirtUri"]

DEFAULT_URI: Final = "qemu:///system"
"""The URI an absent ``uri`` input (and an unset ``vigo:uri``) stands for: this machine."""

SCHEMES: Final = ("qemu", "qemu+ssh", "qemu+unix")
"""The schemes :meth:`LibvirtUri.parse` accepts."""
PATHS: Final = ("/system", "/session")
PROXIES: Final = ("auto", "native", "netcat")
"""Values of ``proxy=``: how the remote end joins the daemon (virt-ssh-helper or nc)."""

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]+")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")
_UNSAFE = re.compile(r"[<>\"'\s\\]")
_REDACTED: Final = "***"


@dataclass(frozen=True)
class LibvirtUri:
    """The parts of a libvirt URI. ``str()`` renders them back (``parse(str(u)) == u``)."""

    scheme: str
    """Lower case, e.g. ``qemu`` or ``qemu+ssh``: the driver, then ``+transport``."""
    user: str | None = None
    """The account (percent-decoded), or None when the URI names none."""
    host: str | None = None
    """The host name or address (lower case, IPv6 without brackets), or None."""
    port: int | None = None
    path: str = ""
    """``/system`` or ``/session`` for the qemu driver."""
    query: tuple[tuple[str, str], ...] = ()
    """Every ``key=value`` of the query, decoded, in order, blank values kept."""
    password: str | None = field(default=None, repr=False)
    """Only :meth:`read` keeps one (:meth:`parse` refuses it); never shown by redacted()."""

    # ------------------------------------------------------------------ parsing

    @classmethod
    def read(cls, text: str, *, lax_port: bool = False) -> LibvirtUri:
        """Take ``text`` apart without judging scheme, path or options.

        Raises ValueError when the URI cannot be split at all (an unbalanced ``[`` in the
        host) or, unless ``lax_port``, when its port is not a number from 0 to 65535
        (``lax_port`` reads such a port as None).
        """
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            if not lax_port:
                raise
            port = None
        return cls(
            scheme=parts.scheme,
            user=None if parts.username is None else unquote(parts.username),
            host=parts.hostname,
            port=port,
            path=parts.path,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
            password=None if parts.password is None else unquote(parts.password),
        )

    @classmethod
    def parse(cls, text: str) -> LibvirtUri:
        """``text`` as a URI this provider supports, or ValueError(reason).

        The reasons are the ``uri`` input's: a URI holding a password is refused before
        anything else, so that no message below echoes it.
        """
        parts = urlsplit(text)
        if parts.password is not None:  # checked first: no message below may echo it
            raise ValueError(
                "holds a password, which would be stored in the stack's state in plain text; "
                "use keyfile= or ssh-agent instead"
            )
        if parts.scheme not in SCHEMES:
            raise ValueError(
                f"{shown(text)} is not a supported libvirt URI: use qemu:///system or "
                "qemu+ssh://[user@]host[:port]/system"
            )
        if parts.path not in PATHS:
            raise ValueError(f"{shown(text)}: the path must be /system or /session")
        remote = parts.scheme == "qemu+ssh"
        if remote and not parts.hostname:
            raise ValueError(
                f"{shown(text)}: qemu+ssh needs a host, e.g. qemu+ssh://root@hv1/system"
            )
        if remote and not _HOST.fullmatch(parts.hostname or ""):
            raise ValueError(f"{shown(text)}: {parts.hostname!r} is not a host name or address")
        if parts.username is not None and not _USER.fullmatch(parts.username):
            raise ValueError(f"{shown(text)}: {parts.username!r} is not a user name")
        if not remote and parts.netloc:
            raise ValueError(
                f"{shown(text)}: a local URI has no host; use {parts.scheme}:///system"
            )
        if _UNSAFE.search(text):
            raise ValueError(f"{shown(text)}: contains characters a libvirt URI cannot hold")
        try:
            parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
        except ValueError:
            raise ValueError(f"{shown(text)}: the port must be a number from 1 to 65535") from None
        # strict: a field without "=" is refused; blank values count as absent here
        options = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
        if options.get("no_verify", "0") != "0":
            # libvirt's ssh transport would then auto-accept (and save) unknown host keys
            raise ValueError(
                f"{shown(text)}: no_verify is refused; SSH host keys are always verified "
                "(add the host's key to known_hosts instead)"
            )
        if options.get("proxy", "auto") not in PROXIES:
            raise ValueError(
                f"{shown(text)}: proxy must be auto, native (virt-ssh-helper) or netcat"
            )
        return cls.read(text)

    # ------------------------------------------------------------------ parts

    @property
    def driver(self) -> str:
        """The hypervisor driver: ``qemu`` of ``qemu+ssh``."""
        return self.scheme.split("+", 1)[0]

    @property
    def transport(self) -> str:
        """How libvirt reaches the daemon: ``ssh`` of ``qemu+ssh``, ``""`` for ``qemu``."""
        return self.scheme.partition("+")[2]

    @property
    def is_remote(self) -> bool:
        """True when the transport reaches another machine (``qemu+ssh://``, not ``+unix``)."""
        return "+" in self.scheme and not self.scheme.endswith("+unix")

    @property
    def is_ssh(self) -> bool:
        return self.scheme.endswith("+ssh")

    def param(self, name: str, default: str = "") -> str:
        """The query parameter ``name`` (the last one when repeated, blank kept), else
        ``default``."""
        found = default
        for key, value in self.query:
            if key == name:
                found = value
        return found

    @property
    def keyfile(self) -> str:
        return self.param("keyfile")

    @property
    def known_hosts(self) -> str:
        return self.param("known_hosts")

    @property
    def proxy(self) -> str:
        """``auto`` unless the URI says ``proxy=``."""
        return self.param("proxy", "auto")

    @property
    def socket(self) -> str:
        return self.param("socket")

    @property
    def netcat(self) -> str:
        return self.param("netcat")

    @property
    def name(self) -> str:
        """``name=``: the URI the remote daemon is asked for, when given."""
        return self.param("name")

    @property
    def no_verify(self) -> bool:
        return self.param("no_verify", "0") not in ("", "0")

    # ------------------------------------------------------------------ rendering

    def _authority(self, password: str | None) -> str:
        user = "" if self.user is None else quote(self.user, safe="")
        if password is not None:
            user += f":{password}"
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        port = "" if self.port is None else f":{self.port}"
        return f"{user}@{host}{port}" if user or self.user is not None else f"{host}{port}"

    def __str__(self) -> str:
        password = None if self.password is None else quote(self.password, safe="")
        text = f"{self.scheme}://{self._authority(password)}{self.path}"
        if self.query:
            text += "?" + urlencode(self.query, safe="/:")
        return text

    def redacted(self) -> str:
        """The URI for messages: no password (``***``) and no query (key paths, options)."""
        password = None if self.password is None else _REDACTED
        return f"{self.scheme}://{self._authority(password)}{self.path}"
