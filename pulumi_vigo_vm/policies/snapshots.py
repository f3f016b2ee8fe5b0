"""The snapshot limit: how many VigoSnapshots a stack may keep of one VM. Each internal
snapshot keeps the blocks it froze inside the VM's disks (a snapshot's data stays until
qemu reuses it), and a long chain slows qemu's reads of those files; a program that takes
one per release without deleting the old ones grows the host's storage without bound.
Counted per (uri, vm_name); a snapshot whose ``vm_name`` or ``uri`` is unknown in preview
(the VM's own output, before the VM exists) cannot be counted and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ..common.typetokens import VIGO_SNAPSHOT as TYPE_TOKEN
from .sizes import coerce_positive_int
from .unique import DomainClaim, default_uri, domain_key

__all__ = [
    "DEFAULT_MAX_SNAPSHOTS_PER_VM",
    "MAX_SNAPSHOTS_POLICY",
    "snapshot_count_violations",
    "snapshots_policy",
]

MAX_SNAPSHOTS_POLICY: Final = "vigo-snapshot-max-per-vm"
DEFAULT_MAX_SNAPSHOTS_PER_VM: Final = 8


def snapshot_count_violations(
    snapshots: Iterable[DomainClaim], config: Mapping[str, Any], uri: str
) -> list[tuple[str, str]]:
    """``(urn, message)`` for every snapshot of a VM that has more than the limit
    (``maxSnapshotsPerVm``), each naming the count; ``uri`` is what an absent ``uri``
    means. Raises ValueError for a limit that is not a positive integer."""
    limit = coerce_positive_int(config.get("maxSnapshotsPerVm", DEFAULT_MAX_SNAPSHOTS_PER_VM))
    groups: dict[tuple[str, str], list[str]] = {}
    for snapshot in snapshots:
        try:
            key = domain_key(snapshot.props, uri)
        except UnknownValueError:
            continue
        if key is not None:
            groups.setdefault(key, []).append(snapshot.urn)
    return [
        (
            urn,
            f"VM {name!r} on {host} has {len(urns)} VigoSnapshots, more than the limit of "
            f"{limit}: delete the oldest (each keeps the blocks it froze in the VM's disks)",
        )
        for (host, name), urns in groups.items()
        if len(urns) > limit
        for urn in urns
    ]


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    snapshots = [
        DomainClaim(resource.urn, resource.props)
        for resource in args.resources
        if resource.resource_type == TYPE_TOKEN
    ]
    for urn, message in snapshot_count_violations(snapshots, config, default_uri(config)):
        report_violation(message, urn)


def snapshots_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    """The stack policy: at most ``maxSnapshotsPerVm`` VigoSnapshots per (uri, vm_name)."""
    return StackValidationPolicy(
        name=MAX_SNAPSHOTS_POLICY,
        description="Prohibits a stack from keeping more than maxSnapshotsPerVm snapshots of a VM.",
        validate=_validate,
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(
            properties={
                "maxSnapshotsPerVm": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MAX_SNAPSHOTS_PER_VM,
                    "description": "VigoSnapshots a stack may keep of one VM.",
                },
                "defaultUri": {"type": "string", "minLength": 1},
            }
        ),
    )
