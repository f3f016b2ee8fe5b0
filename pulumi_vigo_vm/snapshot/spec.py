"""SnapshotSpec: the validated, normalised desired state of one VigoSnapshot, and every
input error. Pure: no I/O.

The inputs that pick the snapshot (``vm_name``, ``uri``, ``snapshot_name``) name another
snapshot when they change: that is a replace (the old one deleted, a new one taken of the
VM as it is then). ``description`` is metadata, rewritten in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..common import inputs
from ..common.inputs import validated
from ..common.typetokens import VIGO_SNAPSHOT as TYPE_TOKEN
from ..common.unknown import is_unknown
from ..errors import InputError, InputFault
from ..spec import ProviderDefaults

__all__ = [
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "REPLACING_INPUTS",
    "TYPE_TOKEN",
    "SnapshotSpec",
    "check_inputs",
    "parse_snapshot_spec",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MAX_DESCRIPTION = 1024


def _vm_name(value: Any) -> str:
    return inputs.named(
        value, "a libvirt domain name", _NAME, "a valid VM name (1-63 of A-Z a-z 0-9 . _ -)"
    )


def _snapshot_name(value: Any) -> str:
    return inputs.named(
        value,
        "the snapshot's name in libvirt",
        _NAME,
        "a valid snapshot name: 1-63 characters from A-Z a-z 0-9 . _ -, starting with a "
        "letter or digit",
    )


def _description(value: Any) -> str:
    text = inputs.xml_text(value, "free text")
    if len(text) > MAX_DESCRIPTION:
        raise ValueError(f"must be at most {MAX_DESCRIPTION} characters, got {len(text)}")
    return text


def _claim(value: Any) -> str:
    try:
        return inputs.claim(value)
    except ValueError:
        raise ValueError(
            "is set by VigoSnapshot from the resource's URN: declare snapshots with "
            "pulumi_vigo_vm.VigoSnapshot (never set it yourself)"
        ) from None


_VALIDATORS: Mapping[str, Callable[[Any], Any]] = {
    "vm_name": _vm_name,
    "uri": inputs.uri,
    "snapshot_name": _snapshot_name,
    "description": _description,
    "claim": _claim,
}
INPUT_NAMES = tuple(_VALIDATORS)
OUTPUT_NAMES = ("created_at", "state", "disks")
REPLACING_INPUTS = ("vm_name", "uri", "snapshot_name")
"""The inputs that pick the snapshot: a change is another snapshot."""


@dataclass(frozen=True)
class SnapshotSpec:
    """One snapshot as declared, validated and with defaults applied."""

    vm_name: str
    uri: str
    snapshot_name: str
    claim: str
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.vm_name}/{self.snapshot_name}"

    def to_inputs(self) -> dict[str, Any]:
        """The normalised inputs, as recorded in state and returned in outputs."""
        return {
            "vm_name": self.vm_name,
            "uri": self.uri,
            "snapshot_name": self.snapshot_name,
            "description": self.description,
            "claim": self.claim,
        }


def check_inputs(
    props: Mapping[str, Any], defaults: ProviderDefaults
) -> tuple[dict[str, Any], list[InputFault]]:
    """Validate ``props`` leniently: unknown (preview) values pass through unjudged.
    Returns the normalised inputs (config defaults applied) and one fault per bad input."""
    values = {k: v for k, v in props.items() if k in _VALIDATORS and v is not None}
    if values.get("uri") == "":
        del values["uri"]
    values.setdefault("uri", defaults.uri)
    values.setdefault("description", "")
    required = ("vm_name", "snapshot_name", "claim")
    faults = [InputFault(name, "is required") for name in required if name not in values]
    checked, invalid = validated(props, values, _VALIDATORS)
    return checked, faults + invalid


def parse_snapshot_spec(props: Mapping[str, Any], defaults: ProviderDefaults) -> SnapshotSpec:
    """The SnapshotSpec for ``props`` (inputs, or recorded outputs). Raises InputError
    listing every bad input; an unknown value is one too (only ``check`` and ``diff`` see
    those)."""
    normalised, faults = check_inputs(props, defaults)
    faults += [InputFault(k, "is not known yet") for k, v in normalised.items() if is_unknown(v)]
    if faults:
        raise InputError(faults)
    return SnapshotSpec(**{name: normalised[name] for name in INPUT_NAMES if name in normalised})
