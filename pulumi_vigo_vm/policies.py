"""Policy rules for ``VigoVm``: sizing limits and single ownership of a libvirt domain.

The rules are plain functions over a resource's property mapping so they can be tested
without the policy engine; :func:`build_policies` wraps each rule in a pulumi-policy
``Policy`` and ``policy/__main__.py`` only assembles them into the ``PolicyPack``.

Why these rules exist:

* A typo such as ``memory_mib=409600`` would make libvirt try to reserve 400 GiB on the
  host; the sizing limits stop such a plan at ``pulumi preview``, before anything is built.
* Two ``VigoVm`` resources (in one stack) that name the same domain on the same libvirt
  URI would fight over it on every ``up``: each would converge it to its own definition.
  "Two configcrates can't manage the same domain."

Defaults (each overridable per stack through the pack config, see ``policy/README.md``):

=====================  ==================  ===================================
policy                 config property     default
=====================  ==================  ===================================
vigo-vm-max-memory     maxMemoryMib        65536 (64 GiB)
vigo-vm-max-vcpu       maxVcpu             32
vigo-vm-max-disk       maxDiskSizeGib      2048 (2 TiB)
vigo-vm-max-disk       defaultDiskSizeGib  20 (size assumed when absent)
vigo-vm-unique-domain  defaultUri          stack config ``vigo:uri``, else
                                           ``qemu:///system``
=====================  ==================  ===================================

The SDK hands a policy only the config the engine sent (it does not fill schema defaults),
so every default is applied here in code as well as advertised in the schema.

Unknown values (outputs of other resources during preview) cannot be judged. The resource
policies let the SDK's ``UnknownValueError`` propagate, which the SDK turns into an
*advisory* "can't run policy ... during preview" diagnostic; the stack policy skips just
the VM whose ``uri`` or ``vm_name`` is unknown and still checks the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .numbers import whole_number

__all__ = [
    "DEFAULT_DISK_SIZE_GIB",
    "DEFAULT_MAX_DISK_SIZE_GIB",
    "DEFAULT_MAX_MEMORY_MIB",
    "DEFAULT_MAX_VCPU",
    "DEFAULT_URI",
    "MAX_DISK_POLICY",
    "MAX_MEMORY_POLICY",
    "MAX_VCPU_POLICY",
    "PACK_NAME",
    "UNIQUE_DOMAIN_POLICY",
    "VIGO_VM_TYPE",
    "DomainClaim",
    "build_policies",
    "coerce_positive_int",
    "disk_violation",
    "domain_key",
    "duplicate_domain_violations",
    "memory_violation",
    "normalize_uri",
    "validate_max_disk",
    "validate_max_memory",
    "validate_max_vcpu",
    "validate_unique_domain",
    "vcpu_violation",
]

VIGO_VM_TYPE: Final = "pulumi-python:dynamic/vigo:VigoVm"
PACK_NAME: Final = "vigo-vm"

DEFAULT_MAX_MEMORY_MIB: Final = 65536
DEFAULT_MAX_VCPU: Final = 32
DEFAULT_MAX_DISK_SIZE_GIB: Final = 2048
DEFAULT_DISK_SIZE_GIB: Final = 20
DEFAULT_URI: Final = "qemu:///system"

MAX_MEMORY_POLICY: Final = "vigo-vm-max-memory"
MAX_VCPU_POLICY: Final = "vigo-vm-max-vcpu"
MAX_DISK_POLICY: Final = "vigo-vm-max-disk"
UNIQUE_DOMAIN_POLICY: Final = "vigo-vm-unique-domain"

# --------------------------------------------------------------------------- numbers


def coerce_positive_int(value: object) -> int:
    """Return ``value`` as a positive int, as the provider reads it, or raise ``ValueError``.

    The grammar is the provider's own (:func:`pulumi_vigo_vm.numbers.whole_number`): the
    engine carries every number as a double, and programs may pass numeric strings, so
    ``4096``, ``4096.0``, ``"4096"`` and ``" 4096.0 "`` all mean 4096. Booleans, exponents
    (``"4e3"``), fractions, NaN/infinity, zero and negatives are refused: the provider would
    not read them as sizes either.
    """
    try:
        return whole_number(value, 1, math.inf)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a positive integer") from exc


def _config_int(config: Mapping[str, Any], key: str, default: int) -> int:
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


# --------------------------------------------------------------------------- sizing rules


def _vm_label(props: Mapping[str, Any]) -> str:
    """Name the VM in messages by its ``vm_name`` (what the operator typed).

    An unknown ``vm_name`` must not hide a size violation, so it is only described.
    """
    try:
        name = props.get("vm_name")
    except UnknownValueError:
        return "VM (vm_name unknown until apply)"
    return f"VM {name!r}" if isinstance(name, str) and name else "VM (no vm_name)"


def _amount(number: int, unit: str) -> str:
    """``number`` with its unit, if it has one."""
    return f"{number} {unit}" if unit else str(number)


def _limit_violation(
    props: Mapping[str, Any], prop: str, limit: int, unit: str, *, assumed: int | None = None
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
            f"{_vm_label(props)}: {prop} is not set, and the assumed default of "
            f"{_amount(assumed, unit)} exceeds the limit of {_amount(limit, unit)}"
        )
    try:
        value = coerce_positive_int(raw)
    except ValueError:
        return (
            f"{_vm_label(props)}: {prop} {raw!r} is not a positive integer, so it cannot be "
            f"checked against the limit of {_amount(limit, unit)}"
        )
    if value > limit:
        return (
            f"{_vm_label(props)}: {prop} {_amount(value, unit)} exceeds the limit of "
            f"{_amount(limit, unit)}"
        )
    return None


def memory_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``memory_mib`` breaks the ``maxMemoryMib`` limit, or None when it does not."""
    limit = _config_int(config, "maxMemoryMib", DEFAULT_MAX_MEMORY_MIB)
    return _limit_violation(props, "memory_mib", limit, "MiB")


def vcpu_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``vcpu`` breaks the ``maxVcpu`` limit, or None when it does not."""
    limit = _config_int(config, "maxVcpu", DEFAULT_MAX_VCPU)
    return _limit_violation(props, "vcpu", limit, "")


def disk_violation(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why ``disk_size_gib`` breaks ``maxDiskSizeGib``, or None when it does not.

    A VM without ``disk_size_gib`` is judged by ``defaultDiskSizeGib``, so lowering the
    limit below the assumed default is noticed too.
    """
    limit = _config_int(config, "maxDiskSizeGib", DEFAULT_MAX_DISK_SIZE_GIB)
    assumed = _config_int(config, "defaultDiskSizeGib", DEFAULT_DISK_SIZE_GIB)
    return _limit_violation(props, "disk_size_gib", limit, "GiB", assumed=assumed)


# --------------------------------------------------------------------------- ownership rule


def normalize_uri(uri: str) -> str:
    """Fold trivially equal libvirt URIs together, and nothing more.

    Whitespace around the URI, the case of the scheme and host, and trailing slashes on the
    path do not change which daemon libvirt connects to, so ``QEMU:///system/`` equals
    ``qemu:///system``. Users, ports and query parameters (``?name=`` even selects another
    daemon) are kept as written: they are not trivially equal.
    """
    text = uri.strip()
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" in the host: compare it as written
        return text
    userinfo, at, host = parts.netloc.rpartition("@")
    normalized = f"{parts.scheme.lower()}://{userinfo}{at}{host.lower()}{parts.path.rstrip('/')}"
    if parts.query:
        normalized += f"?{parts.query}"
    if parts.fragment:
        normalized += f"#{parts.fragment}"
    return normalized


def domain_key(props: Mapping[str, Any], default_uri: str) -> tuple[str, str] | None:
    """The (normalised uri, vm_name) a VM manages, or None when it names no domain.

    An absent or blank ``uri`` means ``default_uri``, exactly as the provider falls back.
    """
    name = props.get("vm_name")
    if not isinstance(name, str) or not name:
        return None
    uri = props.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        uri = default_uri
    return normalize_uri(uri), name


@dataclass(frozen=True)
class DomainClaim:
    """One VigoVm's claim on a domain: which resource, and its properties."""

    urn: str
    props: Mapping[str, Any]


def duplicate_domain_violations(
    claims: Iterable[DomainClaim], default_uri: str
) -> list[tuple[str, str]]:
    """Return ``(urn, message)`` for every VM that shares its (uri, vm_name) with another.

    Every member of a clashing group is reported, each naming the others, so the operator
    sees the conflict on whichever resource they look at. Claims whose ``vm_name`` or
    ``uri`` is unknown during preview are skipped: they cannot be judged yet.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for claim in claims:
        try:
            key = domain_key(claim.props, default_uri)
        except UnknownValueError:
            continue
        if key is not None:
            groups.setdefault(key, []).append(claim.urn)
    violations: list[tuple[str, str]] = []
    for (uri, name), urns in groups.items():
        if len(urns) < 2:
            continue
        for urn in urns:
            others = ", ".join(u for u in urns if u != urn)
            violations.append(
                (
                    urn,
                    f"VM {name!r} on {uri} is also managed by {others}; exactly one "
                    f"VigoVm may manage a libvirt domain",
                )
            )
    return violations


def _default_uri(config: Mapping[str, Any]) -> str:
    """The URI an absent ``uri`` stands for: pack config, else stack ``vigo:uri``, else
    ``qemu:///system`` — the provider's own fallback, which the CLI passes to the pack."""
    configured = config.get("defaultUri")
    if isinstance(configured, str) and configured.strip():
        return configured
    stack_uri = pulumi.runtime.get_config("vigo:uri")
    if isinstance(stack_uri, str) and stack_uri.strip():
        return stack_uri
    return DEFAULT_URI


# --------------------------------------------------------------------------- policies


def _positive_int_schema(default: int, description: str) -> dict[str, Any]:
    """JSON schema of one positive-int setting; the default is advertised for the CLI."""
    return {"type": "integer", "minimum": 1, "default": default, "description": description}


def validate_max_memory(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Stop a VM whose memory would exhaust the host before libvirt is even asked."""
    if args.resource_type != VIGO_VM_TYPE:
        return
    message = memory_violation(args.props, args.get_config())
    if message is not None:
        report_violation(message, None)


def validate_max_vcpu(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Stop a VM with more vCPUs than the hosts are sized (and licensed) for."""
    if args.resource_type != VIGO_VM_TYPE:
        return
    message = vcpu_violation(args.props, args.get_config())
    if message is not None:
        report_violation(message, None)


def validate_max_disk(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Stop a VM whose disk would fill the storage pool; an absent size counts as the
    assumed default, so lowering the limit also catches VMs that rely on it."""
    if args.resource_type != VIGO_VM_TYPE:
        return
    message = disk_violation(args.props, args.get_config())
    if message is not None:
        report_violation(message, None)


def validate_unique_domain(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Stop two VigoVm from converging one libvirt domain to two definitions in turn."""
    claims = [
        DomainClaim(resource.urn, resource.props)
        for resource in args.resources
        if resource.resource_type == VIGO_VM_TYPE
    ]
    for urn, message in duplicate_domain_violations(claims, _default_uri(args.get_config())):
        report_violation(message, urn)


def build_policies(enforcement_level: EnforcementLevel | None = None) -> list[Policy]:
    """Every VigoVm policy, ready for ``PolicyPack``.

    ``enforcement_level`` overrides each policy's own level (the pack's default applies
    when None); per-stack config can still change it, e.g. to ``advisory``.
    """
    return [
        ResourceValidationPolicy(
            name=MAX_MEMORY_POLICY,
            description="Requires VigoVm memory_mib to be a positive integer within the limit.",
            validate=validate_max_memory,
            enforcement_level=enforcement_level,
            config_schema=PolicyConfigSchema(
                properties={
                    "maxMemoryMib": _positive_int_schema(
                        DEFAULT_MAX_MEMORY_MIB, "Largest memory_mib allowed, in MiB."
                    )
                }
            ),
        ),
        ResourceValidationPolicy(
            name=MAX_VCPU_POLICY,
            description="Requires VigoVm vcpu to be a positive integer within the limit.",
            validate=validate_max_vcpu,
            enforcement_level=enforcement_level,
            config_schema=PolicyConfigSchema(
                properties={
                    "maxVcpu": _positive_int_schema(DEFAULT_MAX_VCPU, "Largest vcpu allowed.")
                }
            ),
        ),
        ResourceValidationPolicy(
            name=MAX_DISK_POLICY,
            description="Requires VigoVm disk_size_gib (or the assumed default) within the limit.",
            validate=validate_max_disk,
            enforcement_level=enforcement_level,
            config_schema=PolicyConfigSchema(
                properties={
                    "maxDiskSizeGib": _positive_int_schema(
                        DEFAULT_MAX_DISK_SIZE_GIB, "Largest disk_size_gib allowed, in GiB."
                    ),
                    "defaultDiskSizeGib": _positive_int_schema(
                        DEFAULT_DISK_SIZE_GIB,
                        "Disk size, in GiB, assumed for a VM that sets no disk_size_gib.",
                    ),
                }
            ),
        ),
        StackValidationPolicy(
            name=UNIQUE_DOMAIN_POLICY,
            description="Prohibits two VigoVm from managing the same (uri, vm_name) domain.",
            validate=validate_unique_domain,
            enforcement_level=enforcement_level,
            config_schema=PolicyConfigSchema(
                properties={
                    "defaultUri": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "libvirt URI of a VM without uri; when unset, the stack's "
                            f"vigo:uri config, else {DEFAULT_URI}."
                        ),
                    }
                }
            ),
        ),
    ]
