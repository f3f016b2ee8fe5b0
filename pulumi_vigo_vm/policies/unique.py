"""The ownership policy: two VigoVm that name the same domain on the same libvirt URI would
fight over it on every ``up`` (each converging it to its own definition), so a stack may
hold only one per (uri, vm_name). Unknown values (outputs of other resources in preview)
cannot be judged: that VM is skipped and the others are still checked.
"""

from __future__ import annotations

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
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from ..common.uri import DEFAULT_URI

__all__ = [
    "UNIQUE_DOMAIN_POLICY",
    "DomainClaim",
    "default_uri",
    "domain_key",
    "duplicate_domain_violations",
    "normalize_uri",
    "unique_domain_policy",
    "validate_unique_domain",
]

UNIQUE_DOMAIN_POLICY: Final = "vigo-vm-unique-domain"


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


def default_uri(config: Mapping[str, Any]) -> str:
    """The URI an absent ``uri`` stands for: pack config, else stack ``vigo:uri``, else
    ``qemu:///system`` — the provider's own fallback, which the CLI passes to the pack."""
    configured = config.get("defaultUri")
    if isinstance(configured, str) and configured.strip():
        return configured
    stack_uri = pulumi.runtime.get_config("vigo:uri")
    if isinstance(stack_uri, str) and stack_uri.strip():
        return stack_uri
    return DEFAULT_URI


def validate_unique_domain(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Stop two VigoVm from converging one libvirt domain to two definitions in turn."""
    claims = [
        DomainClaim(resource.urn, resource.props)
        for resource in args.resources
        if resource.resource_type == TYPE_TOKEN
    ]
    for urn, message in duplicate_domain_violations(claims, default_uri(args.get_config())):
        report_violation(message, urn)


def unique_domain_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    """The stack policy: one VigoVm per (uri, vm_name)."""
    return StackValidationPolicy(
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
    )
