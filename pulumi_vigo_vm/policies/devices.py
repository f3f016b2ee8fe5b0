"""The device policies: how many NICs a VM may have, and how much disk it may have attached
in all (its root plus the VigoDisks it attaches), each configurable per stack.

A VM's data disks name VigoDisks by path. A stack policy sees every resource, so the size of
each attached VigoDisk is found by its ``path`` output; until the disks exist (a first
preview) those paths are unknown and the VM is skipped (the size policies still cap each
disk alone). Pre-existing volumes attached by a literal path are not resources of the
stack: their size is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ..common.typetokens import VIGO_DISK as DISK_TYPE_TOKEN
from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from .sizes import DEFAULT_DISK_SIZE_GIB, coerce_positive_int, config_int
from .validation import resource_validator

__all__ = [
    "DEFAULT_MAX_ATTACHED_DISK_GIB",
    "DEFAULT_MAX_NICS",
    "MAX_ATTACHED_DISK_POLICY",
    "MAX_NICS_POLICY",
    "attached_disk_policy",
    "attached_disk_violations",
    "nic_count",
    "nic_violation",
    "nics_policy",
]

MAX_NICS_POLICY: Final = "vigo-vm-max-nics"
MAX_ATTACHED_DISK_POLICY: Final = "vigo-vm-max-attached-disk"
DEFAULT_MAX_NICS: Final = 8
DEFAULT_MAX_ATTACHED_DISK_GIB: Final = 4096


def nic_count(props: Mapping[str, Any]) -> int:
    """The NICs a VM declares: ``nics``, else one for ``network_bridge``/``network``."""
    nics = props.get("nics")  # a Sequence (the policy SDK hands lists over as proxies)
    if isinstance(nics, Sequence) and not isinstance(nics, str) and nics:
        return len(nics)
    return 1 if props.get("network_bridge") or props.get("network") else 0


def nic_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why a VM has too many NICs under ``maxNics``, or None."""
    limit = config_int(config, "maxNics", DEFAULT_MAX_NICS)
    count = nic_count(props)
    if count <= limit:
        return None
    return f"VM {props.get('vm_name')!r}: {count} NICs exceed the limit of {limit}"


def nics_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    return ResourceValidationPolicy(
        name=MAX_NICS_POLICY,
        description="Requires a VigoVm to have at most maxNics NICs.",
        validate=resource_validator(TYPE_TOKEN, nic_violation),
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(
            properties={
                "maxNics": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MAX_NICS,
                    "description": "Most NICs a VM may have.",
                }
            }
        ),
    )


def attached_disk_violations(
    vms: Iterable[tuple[str, Mapping[str, Any]]],
    disk_sizes: Mapping[str, int],
    config: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """``(urn, message)`` for each VM whose root (``disk_size_gib``, else the size policy's
    assumed default) plus attached VigoDisks (``disk_sizes``: size_gib by path) exceeds
    ``maxAttachedDiskGib``. A VM with an unknown value is skipped."""
    limit = config_int(config, "maxAttachedDiskGib", DEFAULT_MAX_ATTACHED_DISK_GIB)
    assumed = config_int(config, "defaultDiskSizeGib", DEFAULT_DISK_SIZE_GIB)
    violations = []
    for urn, props in vms:
        try:
            root_raw = props.get("disk_size_gib")
            root = coerce_positive_int(root_raw) if root_raw is not None else assumed
            disks = props.get("data_disks") or []
            paths = [d.get("path") for d in disks if isinstance(d, Mapping)]
        except (UnknownValueError, ValueError):
            continue  # unknown until apply, or malformed (the provider's check says so)
        attached = [disk_sizes[p] for p in paths if isinstance(p, str) and p in disk_sizes]
        total = root + sum(attached)
        if total > limit:
            violations.append(
                (
                    urn,
                    f"VM {props.get('vm_name')!r}: {total} GiB of disk attached (root {root} "
                    f"GiB + {len(attached)} VigoDisk(s)) exceeds the limit of {limit} GiB",
                )
            )
    return violations


def _disk_sizes(args: StackValidationArgs) -> dict[str, int]:
    sizes = {}
    for resource in args.resources:
        if resource.resource_type != DISK_TYPE_TOKEN:
            continue
        try:
            path, size = resource.props.get("path"), resource.props.get("size_gib")
            if isinstance(path, str):
                sizes[path] = coerce_positive_int(size)
        except (UnknownValueError, ValueError):
            continue
    return sizes


def _validate_attached(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    vms = [(r.urn, r.props) for r in args.resources if r.resource_type == TYPE_TOKEN]
    for urn, message in attached_disk_violations(vms, _disk_sizes(args), args.get_config()):
        report_violation(message, urn)


def attached_disk_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    return StackValidationPolicy(
        name=MAX_ATTACHED_DISK_POLICY,
        description=(
            "Requires a VigoVm's root disk plus its attached VigoDisks to stay within "
            "maxAttachedDiskGib."
        ),
        validate=_validate_attached,
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(
            properties={
                "maxAttachedDiskGib": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MAX_ATTACHED_DISK_GIB,
                    "description": "Most GiB one VM may have attached (root + VigoDisks).",
                },
                "defaultDiskSizeGib": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_DISK_SIZE_GIB,
                    "description": "Root size (GiB) assumed for a VM that sets none.",
                },
            }
        ),
    )
