"""known_hosts files read the way OpenSSH reads them, for one host.

Host keys are verified, never learnt: the keys a host may present come only from the
known_hosts files its :class:`~.target.SshTarget` names. paramiko's own ``HostKeys.load``
cannot be used for that: it raises on the first ``@cert-authority`` or ``@revoked`` line,
which would break every connection of a user whose file has one. So the files are parsed
here, line by line, with OpenSSH's name matching (patterns, negation, hashed names):
``@revoked`` keys are never trusted, and ``@cert-authority`` lines are remembered only to
explain why a host known solely through them is refused (paramiko cannot verify host
certificates).
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass

import paramiko
from paramiko.pkey import UnknownKeyType

from ...errors import HostUnreachableError
from .destination import SshTarget

__all__ = ["HostTrust", "host_matches", "read_known_hosts"]


@dataclass(frozen=True)
class HostTrust:
    """What the known_hosts files say about one host, read the way OpenSSH reads them."""

    trusted: tuple[paramiko.PKey, ...]
    """Plain entries for the host, minus any key that is also revoked."""
    revoked: dict[bytes, str]
    """Public key blob -> the file whose ``@revoked`` line lists it for this host."""
    cert_authority_files: tuple[str, ...]
    """Files with ``@cert-authority`` lines for this host (paramiko cannot verify host
    certificates, so these only explain a refusal)."""


def read_known_hosts(target: SshTarget) -> HostTrust:
    """The entries of ``target``'s known_hosts files that concern it.

    Parsed here, line by line, instead of by paramiko's ``HostKeys.load``, which raises on
    the first ``@cert-authority`` or ``@revoked`` line and so would break every connection
    of a user whose file has one. A line that cannot be parsed (a key type paramiko does not
    know, damaged base64, a marker we do not know) is skipped, as ssh skips it.
    """
    host = target.known_hosts_name
    trusted: list[paramiko.PKey] = []
    revoked: dict[bytes, str] = {}
    cert_authority: list[str] = []
    for path in target.known_hosts:
        try:
            with open(path, "rb") as file:
                text = file.read().decode("utf-8", "replace")
        except FileNotFoundError as exc:
            if target.known_hosts_explicit:
                raise HostUnreachableError(
                    f"known_hosts file {path} given for {target.name} does not exist"
                ) from exc
            continue
        except OSError as exc:
            raise HostUnreachableError(f"cannot read known_hosts file {path}: {exc}") from exc
        for line in text.splitlines():
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            marker = fields.pop(0) if fields[0].startswith("@") else ""
            if len(fields) < 3 or not host_matches(fields[0], host):
                continue
            if marker == "@cert-authority":
                cert_authority.append(path)
                continue
            key = _parse_public_key(fields[1], fields[2])
            if key is None:
                continue
            if marker == "@revoked":
                revoked.setdefault(key.asbytes(), path)
            elif not marker:
                trusted.append(key)
    return HostTrust(
        tuple(k for k in trusted if k.asbytes() not in revoked),
        revoked,
        tuple(dict.fromkeys(cert_authority)),
    )


def host_matches(names: str, host: str) -> bool:
    """Whether a known_hosts name field (``a,b*,!c`` or one hashed ``|1|salt|hash``) names
    ``host``, with OpenSSH's rules: ``*``/``?`` wildcards, case-insensitive, and a matching
    negated pattern excludes the host whatever else matches."""
    host = host.lower()
    if names.startswith("|1|"):  # HashKnownHosts: |1|base64(salt)|base64(HMAC-SHA1(host))
        salt, _, digest = names[3:].partition("|")
        try:
            expected = base64.b64decode(digest, validate=True)
            actual = hmac.new(base64.b64decode(salt, validate=True), host.encode(), "sha1")
        except ValueError:  # damaged line
            return False
        return hmac.compare_digest(actual.digest(), expected)
    matched = False
    for pattern in names.split(","):
        negated = pattern.startswith("!")
        regex = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c)
            for c in pattern.removeprefix("!").lower()
        )
        if re.fullmatch(regex, host):
            if negated:
                return False
            matched = True
    return matched


def _parse_public_key(key_type: str, blob: str) -> paramiko.PKey | None:
    """The key of a known_hosts line, or None when paramiko cannot use it."""
    try:
        return paramiko.PKey.from_type_string(key_type, base64.b64decode(blob, validate=True))
    except (ValueError, paramiko.SSHException, UnknownKeyType):
        return None
