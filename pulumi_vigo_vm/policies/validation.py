"""The one shape of a resource policy: for each resource of a type, ask a pure violation
function of its properties and the stack's policy config, and report what it says."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

__all__ = ["Validator", "Violation", "resource_validator"]

Violation = Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]
"""Why a resource's properties break a policy under a config, or None."""

Validator = Callable[[ResourceValidationArgs, ReportViolation], None]


def resource_validator(resource_type: str, violation: Violation) -> Validator:
    """A policy's ``validate``: ``violation`` asked of each resource of ``resource_type``."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != resource_type:
            return
        message = violation(args.props, args.get_config())
        if message is not None:
            report_violation(message, None)

    return validate
