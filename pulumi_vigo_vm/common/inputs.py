"""What an input of any resource of the package may be, where the resources agree: text that
XML can carry, names of a grammar, absolute paths, libvirt URIs, the claim, sizes, choices.
Pure: no I/O.

Every validator takes the loosely typed value the engine hands over and returns the
normalised value, or raises ``ValueError(reason)``; each resource's spec turns reasons into
one :class:`~pulumi_vigo_vm.errors.InputFault` per input.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from ..errors import InputFault
from .numbers import shown, whole_number
from .unknown import is_unknown
from .uri import LibvirtUri

__all__ = [
    "CLAIM_REASON",
    "CONTROL",
    "MAX_CLAIM_LENGTH",
    "MAX_DISK_SIZE_GIB",
    "absolute_path",
    "claim",
    "disk_size_gib",
    "images_dir",
    "named",
    "one_of",
    "uri",
    "validated",
    "xml_text",
]

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CLAIM_LENGTH = 2048
_XML_META = re.compile(r"[<>&\"']")
MAX_DISK_SIZE_GIB = 64 * 1024  # 64 TiB
# Characters XML 1.0 cannot carry at all (beyond the control characters): text inputs end up
# in domain XML, so they are refused at check time, before any file is written.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string ({what}), got {type(value).__name__}")
    if CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if _NOT_XML.search(value):
        raise ValueError("must not contain characters XML cannot hold (U+FFFE, U+FFFF, surrogates)")
    return value


def named(value: Any, what: str, grammar: re.Pattern[str], is_not: str) -> str:
    """``value`` as a name of ``grammar``, else the error ``<value> is not <is_not>``."""
    name = xml_text(value, what)
    if not grammar.fullmatch(name):
        raise ValueError(f"{shown(name)} is not {is_not}")
    return name


def absolute_path(value: Any, what: str) -> str:
    path = xml_text(value, what)
    if not path.startswith("/"):
        raise ValueError(f"must be an absolute path, got {shown(path)}")
    if ".." in path.split("/"):
        raise ValueError(f"must not contain '..' components, got {shown(path)}")
    if _XML_META.search(path):
        raise ValueError(f"must not contain any of < > & \" ', got {shown(path)}")
    return "/" + posixpath.normpath(path).lstrip("/")


def uri(value: Any) -> str:
    """The URI as given, once :meth:`~pulumi_vigo_vm.common.uri.LibvirtUri.parse` accepts it."""
    text = xml_text(value, "a libvirt URI")
    LibvirtUri.parse(text)
    return text


def claim(value: Any) -> str:
    claim = xml_text(value, "the owner VigoVm computes from its URN")
    if not claim or len(claim) > MAX_CLAIM_LENGTH or "urn:pulumi:" not in claim:
        raise ValueError(CLAIM_REASON)
    return claim


CLAIM_REASON = (
    "is set by VigoVm from the resource's URN: declare VMs with pulumi_vigo_vm.VigoVm "
    "(never set it yourself)"
)


def disk_size_gib(value: Any) -> int:
    return whole_number(value, 1, MAX_DISK_SIZE_GIB, " GiB")


def images_dir(value: Any) -> str:
    return absolute_path(value, "a directory for overlays and seed ISOs")


def one_of(value: Any, kind: type[StrEnum]) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ValueError(f"must be one of {choices}; got {shown(value)}") from None


def validated(
    props: Mapping[str, Any],
    values: Mapping[str, Any],
    validators: Mapping[str, Callable[[Any], Any]],
) -> tuple[dict[str, Any], list[InputFault]]:
    """The lenient check every resource's spec runs: each of ``values`` through its
    validator (an unknown value passes unjudged: preview), the props no validator names kept
    as given; and one fault per value its validator refused."""
    normalised: dict[str, Any] = {}
    faults: list[InputFault] = []
    for name, value in values.items():
        if is_unknown(value):
            normalised[name] = value
            continue
        try:
            normalised[name] = validators[name](value)
        except ValueError as exc:
            faults.append(InputFault(name, str(exc)))
    passthrough = {k: v for k, v in props.items() if k not in validators}
    return {**passthrough, **normalised}, faults
