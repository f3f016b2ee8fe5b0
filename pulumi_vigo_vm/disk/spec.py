"""DiskSpec: the validated, normalised desired state of one VigoDisk, and every input error.

Numbers arrive as floats in every provider method and integers may be numeric strings, so
every method parses its property bag here first. The inputs that pick the file (``name``,
``format``, ``uri``, ``images_dir``) never change on a live disk, and a disk never shrinks:
a replace would hand the user a new, empty disk and delete the one holding the data, so
such a change is refused (:func:`refused_changes`) instead. Pure: no I/O.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..common import inputs
from ..common.inputs import validated
from ..common.numbers import shown
from ..common.typetokens import VIGO_DISK as TYPE_TOKEN
from ..common.unknown import is_unknown
from ..common.uri import DEFAULT_URI
from ..errors import InputError, InputFault
from ..spec import DEFAULT_IMAGES_DIR, ProviderDefaults

__all__ = [
    "DISKS_DIR",
    "FIXED_INPUTS",
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "TYPE_TOKEN",
    "DiskFormat",
    "DiskSpec",
    "check_inputs",
    "parse_disk",
    "refused_changes",
]

"""The type of every VigoDisk in state; policies find disks by it."""

DISKS_DIR = "disks"
"""Data disks live in ``<images_dir>/disks/``: a folder of their own, so no disk name can
collide with a VM's overlay, seed or NVRAM."""

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


class DiskFormat(StrEnum):
    """The image format of a data disk; the file name ends in it."""

    QCOW2 = "qcow2"
    RAW = "raw"


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a valid disk name: use 1-63 characters from a-z 0-9 . _ -, "
            "starting with a letter or digit (it names the file <images_dir>/disks/<name>.<format>)"
        )
    return value


def _format(value: Any) -> str:
    try:
        return DiskFormat(value).value
    except ValueError:
        raise ValueError(f"must be qcow2 or raw, got {shown(value)}") from None


def _claim(value: Any) -> str:
    try:
        return inputs.claim(value)
    except ValueError:
        raise ValueError(
            "is set by VigoDisk from the resource's URN: declare disks with "
            "pulumi_vigo_vm.VigoDisk (never set it yourself)"
        ) from None


_VALIDATORS: Mapping[str, Callable[[Any], Any]] = {
    "name": _name,
    "size_gib": inputs.disk_size_gib,
    "format": _format,
    "uri": inputs.uri,
    "images_dir": inputs.images_dir,
    "claim": _claim,
}
INPUT_NAMES = tuple(_VALIDATORS)
OUTPUT_NAMES = ("path", "virtual_size_bytes", "attached_to")
FIXED_INPUTS = ("name", "format", "uri", "images_dir")
"""The inputs that pick the disk's file: a change would be a new, empty disk."""

_FIXED_REASON = (
    "cannot change on an existing disk: a replace would create a new, empty disk and delete "
    "this one with its data. Create a new VigoDisk and copy the data over instead"
)


@dataclass(frozen=True)
class DiskSpec:
    """One data disk as declared, validated and with defaults applied."""

    name: str
    size_gib: int
    format: DiskFormat = DiskFormat.QCOW2
    uri: str = DEFAULT_URI
    images_dir: str = DEFAULT_IMAGES_DIR
    claim: str | None = None
    """The owner named in the file's sidecar: the resource's URN, computed by VigoDisk."""

    @property
    def path(self) -> str:
        """``<images_dir>/disks/<name>.<format>``."""
        return posixpath.join(self.images_dir, DISKS_DIR, f"{self.name}.{self.format.value}")

    @property
    def size_bytes(self) -> int:
        return self.size_gib * 1024**3

    def to_inputs(self) -> dict[str, Any]:
        """The normalised inputs, as recorded in state and returned in outputs."""
        return {
            "name": self.name,
            "size_gib": self.size_gib,
            "format": self.format.value,
            "uri": self.uri,
            "images_dir": self.images_dir,
            "claim": self.claim,
        }


def check_inputs(
    props: Mapping[str, Any], defaults: ProviderDefaults
) -> tuple[dict[str, Any], list[InputFault]]:
    """Validate ``props`` leniently: unknown (preview) values pass through unjudged.
    Returns the normalised inputs (config defaults applied) and one fault per bad input."""
    values = {k: v for k, v in props.items() if k in _VALIDATORS and v not in (None, "")}
    values.setdefault("format", DiskFormat.QCOW2.value)
    values.setdefault("uri", defaults.uri)
    values.setdefault("images_dir", defaults.images_dir)
    faults = [InputFault(name, "is required") for name in ("name", "size_gib", "claim")]
    faults = [f for f in faults if f.property not in values]
    checked, invalid = validated(props, values, _VALIDATORS)
    return checked, faults + invalid


def parse_disk(props: Mapping[str, Any], defaults: ProviderDefaults) -> DiskSpec:
    """The DiskSpec for ``props`` (inputs, or recorded outputs). Raises InputError listing
    every bad input; an unknown value is one too (only ``check`` and ``diff`` see those)."""
    normalised, faults = check_inputs(props, defaults)
    faults += [InputFault(k, "is not known yet") for k, v in normalised.items() if is_unknown(v)]
    if faults:
        raise InputError(faults)
    typed = {name: normalised[name] for name in INPUT_NAMES if name in normalised}
    typed["format"] = DiskFormat(typed["format"])
    return DiskSpec(**typed)


def refused_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[InputFault]:
    """The changes from normalised inputs ``old`` to ``new`` that would lose the disk's
    data: a changed file (``name``, ``format``, ``uri``, ``images_dir``) or a shrink.
    Values not known yet (preview) or missing are not judged."""
    faults = []

    def known(value: Any) -> bool:
        return value is not None and not is_unknown(value)

    for name in FIXED_INPUTS:
        before, after = old.get(name), new.get(name)
        if known(before) and known(after) and before != after:
            faults.append(InputFault(name, f"{shown(before)} -> {shown(after)}: {_FIXED_REASON}"))
    before, after = old.get("size_gib"), new.get("size_gib")
    if isinstance(before, int) and isinstance(after, int) and after < before:
        faults.append(
            InputFault(
                "size_gib",
                f"{before} -> {after} GiB: a disk never shrinks (its data would be cut off). "
                "Create a new, smaller VigoDisk and copy the data over instead",
            )
        )
    return faults
