"""BaseImageSpec: the validated, normalised desired state of one VigoBaseImage, every input
error, and what a change of each input does. Pure: no I/O.

The engine hands the provider loosely typed property bags (numbers as floats, unknowns in
preview); this module turns one into a :class:`BaseImageSpec` or into one
:class:`~pulumi_vigo_vm.errors.InputFault` per bad input, so ``check`` reports all of them
at once before any host is touched.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..common import inputs
from ..common.unknown import is_unknown
from ..common.uri import DEFAULT_URI
from ..errors import InputError, InputFault
from ..spec import ProviderDefaults
from .urls import shown

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_GROUP",
    "DEFAULT_MODE",
    "DEFAULT_OWNER",
    "INPUT_NAMES",
    "REPLACING_INPUTS",
    "BaseImageSpec",
    "FetchOn",
    "changed_inputs",
    "check_inputs",
    "default_path",
    "parse_spec",
]

DEFAULT_OWNER = "root"
DEFAULT_GROUP = "root"
DEFAULT_MODE = 0o644
BASES_DIR = "bases"
"""The folder of its own under ``images_dir`` that default paths go to, clear of VM files."""

COMPRESSIONS: Mapping[str, str] = {".xz": "xz", ".gz": "gz", ".bz2": "bz2", ".zst": "zst"}
"""Suffix of a source's file name -> the compression it is decompressed from on the way."""

_SCHEMES = ("https", "http", "file")
_SHA256 = re.compile(r"(?:sha256:)?([0-9a-f]{64})", re.IGNORECASE)
_ACCOUNT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|[0-9]{1,10}")
_MODE = re.compile(r"0?[0-7]{3}")

INPUT_NAMES = ("source", "sha256", "path", "owner", "group", "mode", "fetch_on", "uri", "claim")
REPLACING_INPUTS = frozenset({"path", "uri"})
"""A change of these is a new file elsewhere: a replace (create first, then delete the old
one). Every other change is an update in place, so VMs built on the file are never replaced
by the engine for it."""


class FetchOn(StrEnum):
    """Who downloads the source."""

    RUNNER = "runner"  # the provider, streaming over the host connection
    HOST = "host"  # the hypervisor itself (curl on the host)


@dataclass(frozen=True)
class BaseImageSpec:
    """One base image as the user declared it, validated and with defaults applied."""

    source: str
    sha256: str
    """Lower-case hex digest of the bytes as published (before decompression)."""
    path: str
    owner: str = DEFAULT_OWNER
    group: str = DEFAULT_GROUP
    mode: int = DEFAULT_MODE
    fetch_on: FetchOn = FetchOn.RUNNER
    uri: str = DEFAULT_URI
    claim: str | None = None
    """The resource's URN as VigoBaseImage computes it; None in state without one."""

    @property
    def compression(self) -> str | None:
        """``xz``, ``gz``, ``bz2``, ``zst`` from the source's file name, or None."""
        return _compression(self.source)

    @property
    def mode_text(self) -> str:
        """The mode as users write it: ``"0644"``."""
        return f"{self.mode:04o}"

    def to_inputs(self) -> dict[str, Any]:
        """The normalised inputs, as outputs of the same names."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "path": self.path,
            "owner": self.owner,
            "group": self.group,
            "mode": self.mode_text,
            "fetch_on": self.fetch_on.value,
            "uri": self.uri,
            "claim": self.claim,
        }


def _compression(source: str) -> str | None:
    name = posixpath.basename(urllib.parse.urlsplit(source).path)
    for suffix, compression in COMPRESSIONS.items():
        if name.endswith(suffix):
            return compression
    return None


def default_path(images_dir: str, source: str) -> str:
    """``<images_dir>/bases/<source file name without its compression suffix>``."""
    name = urllib.parse.unquote(posixpath.basename(urllib.parse.urlsplit(source).path))
    for suffix in COMPRESSIONS:
        name = name.removesuffix(suffix)
    return posixpath.join(images_dir, BASES_DIR, name)


def _source(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be an https://, http:// or file:// URL of the image")
    parts = urllib.parse.urlsplit(value)
    given = repr(shown(value))  # as it may be shown: a query can hold a credential
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"{given} is not an https://, http:// or file:// URL; give the image's URL"
        )
    if parts.scheme != "file" and not parts.hostname:
        raise ValueError(f"{given} names no host")
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        raise ValueError(f"{given}: a file:// URL names a local path (file:///path)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "holds credentials, which would be stored in the stack's state in plain text; "
            "serve the image without them (or behind a proxy that adds them)"
        )
    name = urllib.parse.unquote(posixpath.basename(parts.path))
    for suffix in COMPRESSIONS:
        name = name.removesuffix(suffix)
    if name in ("", ".", "..") or "/" in name:
        raise ValueError(f"{given} names no file (its path must end in the image's name)")
    return value


def _sha256(value: Any) -> str:
    match = _SHA256.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            "must be the 64 hex digits of the sha256 of the image as published (the line "
            "for its file in the publisher's SHA256SUMS)"
        )
    return match.group(1).lower()


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"must be an absolute path on the hypervisor, got {value!r}")
    normal = posixpath.normpath(value)
    if normal != value or normal == "/" or "\x00" in value:
        raise ValueError(f"{value!r} is not a normalised path of a file (use {normal!r})")
    return value


def _account(what: str) -> Any:
    def validate(value: Any) -> str:
        if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
            raise ValueError(f"must be a Unix {what} name or number, got {value!r}")
        return value

    return validate


def _mode(value: Any) -> int:
    if isinstance(value, str) and _MODE.fullmatch(value):
        mode = int(value, 8)
        if mode & 0o022 == 0 and mode & 0o400:
            return mode
        raise ValueError(
            f"{value!r}: a base must be readable by its owner and writable by nobody else "
            '(group or others writing it would corrupt every VM on it); e.g. "0644"'
        )
    raise ValueError(f'must be an octal mode as a string, e.g. "0640", got {value!r}')


def _fetch_on(value: Any) -> FetchOn:
    try:
        return FetchOn(value)
    except ValueError:
        raise ValueError(
            f"must be runner (the provider downloads) or host (the hypervisor does), got {value!r}"
        ) from None


def _claim(value: Any) -> str:
    if not isinstance(value, str) or "urn:pulumi:" not in value:
        raise ValueError("is set by VigoBaseImage from the resource's URN (never set it yourself)")
    return value


_VALIDATORS: Mapping[str, Any] = {
    "source": _source,
    "sha256": _sha256,
    "path": _path,
    "owner": _account("user"),
    "group": _account("group"),
    "mode": _mode,
    "fetch_on": _fetch_on,
    "uri": inputs.uri,
    "claim": _claim,
}


def _defaults(props: Mapping[str, Any], defaults: ProviderDefaults) -> dict[str, Any]:
    """Omitted inputs filled in: the default path derives from the (known) source."""
    filled = {name: props.get(name) for name in INPUT_NAMES}
    filled["owner"] = filled["owner"] or DEFAULT_OWNER
    filled["group"] = filled["group"] or DEFAULT_GROUP
    filled["mode"] = filled["mode"] or f"{DEFAULT_MODE:04o}"
    filled["fetch_on"] = filled["fetch_on"] or FetchOn.RUNNER.value
    filled["uri"] = filled["uri"] or defaults.uri
    source = filled["source"]
    if filled["path"] is None and isinstance(source, str) and not is_unknown(source):
        with contextlib.suppress(ValueError):  # the source's own fault is reported
            filled["path"] = default_path(defaults.images_dir, _source(source))
    return filled


def check_inputs(
    props: Mapping[str, Any], defaults: ProviderDefaults
) -> tuple[dict[str, Any], list[InputFault]]:
    """The normalised inputs (unknowns passed through) and one fault per bad input."""
    filled = _defaults(props, defaults)
    faults: list[InputFault] = []
    normalised: dict[str, Any] = {}
    for name, value in filled.items():
        if value is None or is_unknown(value):
            if value is None and name in ("source", "sha256"):
                faults.append(InputFault(name, "is required"))
            normalised[name] = value
            continue
        try:
            result = _VALIDATORS[name](value)
        except ValueError as exc:
            faults.append(InputFault(name, str(exc)))
            normalised[name] = value
            continue
        normalised[name] = f"{result:04o}" if name == "mode" else str(result)
    unknown = sorted(set(props) - set(INPUT_NAMES) - {"__provider"})
    faults += [InputFault(name, "is not an input of VigoBaseImage") for name in unknown]
    if filled["path"] is None and not is_unknown(filled["source"]) and not faults:
        faults.append(InputFault("path", "cannot be derived from the source; give it"))
    return normalised, faults


def parse_spec(props: Mapping[str, Any], defaults: ProviderDefaults) -> BaseImageSpec:
    """A BaseImageSpec from a property bag (inputs, or recorded outputs); InputError if bad."""
    normalised, faults = check_inputs({k: props.get(k) for k in INPUT_NAMES}, defaults)
    faults += [
        InputFault(name, "is not known yet")
        for name, value in normalised.items()
        if is_unknown(value)
    ]
    if faults:
        raise InputError(faults)
    return BaseImageSpec(
        source=normalised["source"],
        sha256=normalised["sha256"],
        path=normalised["path"],
        owner=normalised["owner"],
        group=normalised["group"],
        mode=int(normalised["mode"], 8),
        fetch_on=FetchOn(normalised["fetch_on"]),
        uri=normalised["uri"],
        claim=normalised["claim"],
    )


def changed_inputs(old: BaseImageSpec, new: BaseImageSpec) -> list[str]:
    """The inputs whose normalised values differ, in declaration order."""
    before, after = old.to_inputs(), new.to_inputs()
    return [name for name in INPUT_NAMES if before[name] != after[name]]
