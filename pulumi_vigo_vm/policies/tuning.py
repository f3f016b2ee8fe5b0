"""The hardware policies (operations spec §4): how many host devices one VM may take from
its host, and how much of its memory may sit on huge pages, each configurable per stack.

A host device passed through leaves the host (managed passthrough unbinds its driver), and
huge pages are reserved, unswappable memory the host gives up: both are a risk to the host
as well as a size, so an operator caps them per VM (``maxHostDevices: 0`` forbids
passthrough on a stack). Numbers are read with the provider's own grammar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
)

from ..common.numbers import whole_number
from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from .sizes import coerce_positive_int
from .validation import resource_validator

__all__ = [
    "DEFAULT_MAX_HOST_DEVICES",
    "DEFAULT_MAX_HUGEPAGE_MEMORY_MIB",
    "MAX_HOST_DEVICES_POLICY",
    "MAX_HUGEPAGE_MEMORY_POLICY",
    "host_devices_policy",
    "host_devices_violation",
    "hugepage_memory_policy",
    "hugepage_memory_violation",
]

MAX_HOST_DEVICES_POLICY: Final = "vigo-vm-max-host-devices"
MAX_HUGEPAGE_MEMORY_POLICY: Final = "vigo-vm-max-hugepage-memory"
DEFAULT_MAX_HOST_DEVICES: Final = 4
DEFAULT_MAX_HUGEPAGE_MEMORY_MIB: Final = 32768


def _setting(config: Mapping[str, Any], key: str, default: int) -> int:
    """A pack setting of zero or more, else ``default``; a malformed one fails loudly."""
    raw = config.get(key)
    if raw is None:
        return default
    try:
        return whole_number(raw, 0, math.inf)
    except ValueError as exc:
        raise ValueError(f"policy config {key}: {exc}") from exc


def host_devices_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why a VM passes through more host devices than ``maxHostDevices``, or None."""
    limit = _setting(config, "maxHostDevices", DEFAULT_MAX_HOST_DEVICES)
    devices = props.get("host_devices")
    count = len(devices) if isinstance(devices, Sequence) and not isinstance(devices, str) else 0
    if count <= limit:
        return None
    return (
        f"VM {props.get('vm_name')!r}: {count} host devices passed through exceed the limit "
        f"of {limit} (each leaves its host while the VM runs)"
    )


def _on_hugepages(value: Any) -> bool:
    """Whether ``hugepages`` asks for huge pages: true, or a page size."""
    return value not in (None, False, "false", "")


def hugepage_memory_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why a VM asks for more huge-page memory than ``maxHugepageMemoryMib``, or None. The
    memory a domain boots with is ``max_memory_mib`` when set, else ``memory_mib``; an
    unreadable number is left to the provider's check (and the size policies)."""
    if not _on_hugepages(props.get("hugepages")):
        return None
    limit = _setting(config, "maxHugepageMemoryMib", DEFAULT_MAX_HUGEPAGE_MEMORY_MIB)
    raw = props.get("max_memory_mib")
    if raw is None:
        raw = props.get("memory_mib")
    try:
        memory = coerce_positive_int(raw)
    except ValueError:
        return None
    if memory <= limit:
        return None
    return (
        f"VM {props.get('vm_name')!r}: {memory} MiB on huge pages exceed the limit of "
        f"{limit} MiB (huge pages are reserved, unswappable host memory)"
    )


def host_devices_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    return ResourceValidationPolicy(
        name=MAX_HOST_DEVICES_POLICY,
        description="Requires a VigoVm to pass through at most maxHostDevices host devices.",
        validate=resource_validator(TYPE_TOKEN, host_devices_violation),
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(
            properties={
                "maxHostDevices": {
                    "type": "integer",
                    "minimum": 0,
                    "default": DEFAULT_MAX_HOST_DEVICES,
                    "description": "Most host devices one VM may take (0: none).",
                }
            }
        ),
    )


def hugepage_memory_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    return ResourceValidationPolicy(
        name=MAX_HUGEPAGE_MEMORY_POLICY,
        description=("Requires a VigoVm on huge pages to boot with at most maxHugepageMemoryMib."),
        validate=resource_validator(TYPE_TOKEN, hugepage_memory_violation),
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(
            properties={
                "maxHugepageMemoryMib": {
                    "type": "integer",
                    "minimum": 0,
                    "default": DEFAULT_MAX_HUGEPAGE_MEMORY_MIB,
                    "description": "Most MiB of one VM's memory on huge pages (0: none).",
                }
            }
        ),
    )
