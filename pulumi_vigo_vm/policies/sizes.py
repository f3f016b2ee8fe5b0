"""The size policies: one per sized input of VigoVm and VigoDisk (:data:`SIZE_LIMITS`), each
capping what a typo could ask of a host (``memory_mib=409600`` would make libvirt try to
reserve 400 GiB; ``size_gib=50000`` would fill the storage as the guest writes).

Sizes are read with the provider's own grammar (:func:`pulumi_vigo_vm.common.numbers.whole_number`),
so the pack and the provider never disagree about what a number is. Every default is applied
in code as well as advertised in the schema: the SDK hands a policy only the config the
engine sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ..common.numbers import whole_number
from ..common.typetokens import VIGO_DISK as DISK_TYPE_TOKEN
from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from .validation import resource_validator

__all__ = [
    "DEFAULT_DISK_SIZE_GIB",
    "DEFAULT_MAX_DATA_DISK_SIZE_GIB",
    "DEFAULT_MAX_DISK_SIZE_GIB",
    "DEFAULT_MAX_MEMORY_MIB",
    "DEFAULT_MAX_VCPU",
    "MAX_DATA_DISK_POLICY",
    "MAX_DISK_POLICY",
    "MAX_MEMORY_POLICY",
    "MAX_VCPU_POLICY",
    "SIZE_LIMITS",
    "SizeLimit",
    "coerce_positive_int",
    "config_int",
    "data_disk_violation",
    "disk_violation",
    "memory_violation",
    "size_policy",
    "size_violation",
    "vcpu_violation",
]

DEFAULT_MAX_MEMORY_MIB: Final = 65536
DEFAULT_MAX_VCPU: Final = 32
DEFAULT_MAX_DISK_SIZE_GIB: Final = 2048
DEFAULT_DISK_SIZE_GIB: Final = 20
DEFAULT_MAX_DATA_DISK_SIZE_GIB: Final = 2048

MAX_MEMORY_POLICY: Final = "vigo-vm-max-memory"
MAX_VCPU_POLICY: Final = "vigo-vm-max-vcpu"
MAX_DISK_POLICY: Final = "vigo-vm-max-disk"
MAX_DATA_DISK_POLICY: Final = "vigo-disk-max-size"


def coerce_positive_int(value: object) -> int:
    """Return ``value`` as a positive int, as the provider reads it, or raise ``ValueError``.

    The grammar is the provider's own (:func:`pulumi_vigo_vm.common.numbers.whole_number`): the
    engine carries every number as a double, and programs may pass numeric strings, so
    ``4096``, ``4096.0``, ``"4096"`` and ``" 4096.0 "`` all mean 4096. Booleans, exponents
    (``"4e3"``), fractions, NaN/infinity, zero and negatives are refused: the provider would
    not read them as sizes either.
    """
    try:
        return whole_number(value, 1, math.inf)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a positive integer") from exc


def config_int(config: Mapping[str, Any], key: str, default: int) -> int:
    """Read a positive-int pack setting, falling back to ``default`` when it is absent.

    A present but malformed setting is an operator error and fails loudly rather than
    silently reverting to the default.
    """
    raw = config.get(key)
    if raw is None:
        return default
    try:
        return coerce_positive_int(raw)
    except ValueError as exc:
        raise ValueError(f"policy config {key}: {exc}") from exc


def _label(props: Mapping[str, Any], subject: str, name_input: str) -> str:
    """Name the resource in messages by its ``name_input`` (what the operator typed: a VM's
    ``vm_name``, a disk's ``name``). An unknown name must not hide a size violation, so it
    is only described."""
    try:
        name = props.get(name_input)
    except UnknownValueError:
        return f"{subject} ({name_input} unknown until apply)"
    return (
        f"{subject} {name!r}" if isinstance(name, str) and name else f"{subject} (no {name_input})"
    )


def _amount(number: int, unit: str) -> str:
    """``number`` with its unit, if it has one."""
    return f"{number} {unit}" if unit else str(number)


def _limit_violation(
    label: str,
    props: Mapping[str, Any],
    prop: str,
    limit: int,
    unit: str,
    *,
    assumed: int | None = None,
) -> str | None:
    """Judge one size property against ``limit``; return the violation message or None.

    A missing property is not judged (the provider's own input check rejects it), unless
    ``assumed`` says what size an absent property stands for.
    """
    raw = props.get(prop)
    if raw is None:
        if assumed is None or assumed <= limit:
            return None
        return (
            f"{label}: {prop} is not set, and the assumed default of "
            f"{_amount(assumed, unit)} exceeds the limit of {_amount(limit, unit)}"
        )
    try:
        value = coerce_positive_int(raw)
    except ValueError:
        return (
            f"{label}: {prop} {raw!r} is not a positive integer, so it cannot be "
            f"checked against the limit of {_amount(limit, unit)}"
        )
    if value > limit:
        return f"{label}: {prop} {_amount(value, unit)} exceeds the limit of {_amount(limit, unit)}"
    return None


@dataclass(frozen=True)
class SizeLimit:
    """One sized input of a resource type and the policy that caps it: the table the size
    policies, their config schema and their messages are all built from."""

    input: str
    """The input judged (of VigoVm: a name from :data:`pulumi_vigo_vm.vm.fields.INPUTS`)."""
    policy: str
    config_key: str
    default: int
    unit: str
    description: str
    assumed_key: str | None = None
    """A pack setting naming the size an absent input stands for (None: absent passes)."""
    assumed_default: int | None = None
    resource_type: str = TYPE_TOKEN
    """The type token of the resources judged."""
    resource: str = "VigoVm"
    subject: str = "VM"
    """How messages call one such resource, named by its ``name_input``."""
    name_input: str = "vm_name"


SIZE_LIMITS: Final = (
    SizeLimit(
        "memory_mib",
        MAX_MEMORY_POLICY,
        "maxMemoryMib",
        DEFAULT_MAX_MEMORY_MIB,
        "MiB",
        "Largest memory_mib allowed, in MiB.",
    ),
    SizeLimit("vcpu", MAX_VCPU_POLICY, "maxVcpu", DEFAULT_MAX_VCPU, "", "Largest vcpu allowed."),
    SizeLimit(
        "disk_size_gib",
        MAX_DISK_POLICY,
        "maxDiskSizeGib",
        DEFAULT_MAX_DISK_SIZE_GIB,
        "GiB",
        "Largest disk_size_gib allowed, in GiB.",
        assumed_key="defaultDiskSizeGib",
        assumed_default=DEFAULT_DISK_SIZE_GIB,
    ),
    SizeLimit(
        "size_gib",
        MAX_DATA_DISK_POLICY,
        "maxSizeGib",
        DEFAULT_MAX_DATA_DISK_SIZE_GIB,
        "GiB",
        "Largest VigoDisk size_gib allowed, in GiB.",
        resource_type=DISK_TYPE_TOKEN,
        resource="VigoDisk",
        subject="disk",
        name_input="name",
    ),
)
_LIMIT_OF = {limit.input: limit for limit in SIZE_LIMITS}


def size_violation(
    limit: SizeLimit, props: Mapping[str, Any], config: Mapping[str, Any]
) -> str | None:
    """Why ``props`` break ``limit`` under the pack ``config``, or None when they do not."""
    cap = config_int(config, limit.config_key, limit.default)
    assumed = None
    if limit.assumed_key is not None and limit.assumed_default is not None:
        assumed = config_int(config, limit.assumed_key, limit.assumed_default)
    label = _label(props, limit.subject, limit.name_input)
    return _limit_violation(label, props, limit.input, cap, limit.unit, assumed=assumed)


def memory_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``memory_mib`` breaks the ``maxMemoryMib`` limit, or None when it does not."""
    return size_violation(_LIMIT_OF["memory_mib"], props, config)


def vcpu_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``vcpu`` breaks the ``maxVcpu`` limit, or None when it does not."""
    return size_violation(_LIMIT_OF["vcpu"], props, config)


def disk_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``disk_size_gib`` breaks ``maxDiskSizeGib``, or None when it does not. A VM
    without ``disk_size_gib`` is judged by ``defaultDiskSizeGib``, so lowering the limit
    below the assumed default is noticed too."""
    return size_violation(_LIMIT_OF["disk_size_gib"], props, config)


def data_disk_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why a VigoDisk's ``size_gib`` breaks ``maxSizeGib``, or None when it does not."""
    return size_violation(_LIMIT_OF["size_gib"], props, config)


def _positive_int_schema(default: int, description: str) -> dict[str, Any]:
    """JSON schema of one positive-int setting; the default is advertised for the CLI."""
    return {"type": "integer", "minimum": 1, "default": default, "description": description}


def _size_validator(limit: SizeLimit) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    validate = resource_validator(
        limit.resource_type, lambda props, config: size_violation(limit, props, config)
    )
    validate.__name__ = f"validate_{limit.policy.replace('-', '_')}"
    return validate


validate_max_memory = _size_validator(_LIMIT_OF["memory_mib"])
"""Stop a VM whose memory would exhaust the host before libvirt is even asked."""
validate_max_vcpu = _size_validator(_LIMIT_OF["vcpu"])
"""Stop a VM with more vCPUs than the hosts are sized (and licensed) for."""
validate_max_disk = _size_validator(_LIMIT_OF["disk_size_gib"])
"""Stop a VM whose disk would fill the storage pool (an absent size counts as the assumed
default, so lowering the limit also catches VMs that rely on it)."""
validate_max_data_disk = _size_validator(_LIMIT_OF["size_gib"])
"""Stop a data disk that would fill the storage pool as its guest writes."""


def size_policy(limit: SizeLimit, enforcement_level: EnforcementLevel | None) -> Policy:
    properties = {limit.config_key: _positive_int_schema(limit.default, limit.description)}
    if limit.assumed_key is not None and limit.assumed_default is not None:
        properties[limit.assumed_key] = _positive_int_schema(
            limit.assumed_default,
            f"{limit.input} ({limit.unit}) assumed for a {limit.subject} that sets none.",
        )
    assumed = " (or the assumed default)" if limit.assumed_key else ""
    return ResourceValidationPolicy(
        name=limit.policy,
        description=f"Requires {limit.resource} {limit.input}{assumed} to be a positive integer "
        "within the limit.",
        validate=_size_validator(limit),
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(properties=properties),
    )
