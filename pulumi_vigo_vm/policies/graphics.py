"""The display rule: a VM's display (``graphics``) reachable beyond the host's loopback with
no password is open to anyone who can reach that address (VNC and SPICE then hand over
the guest's console, keyboard and all).

Only the presence of ``graphics_password`` is looked at, never its value (a secret).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ResourceValidationPolicy,
)

from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from .validation import resource_validator

__all__ = ["OPEN_DISPLAY_POLICY", "open_display_policy", "open_display_violation"]

OPEN_DISPLAY_POLICY: Final = "vigo-vm-open-display"
_DEFAULT_LISTEN: Final = "127.0.0.1"
"""Where the provider puts a display without ``graphics_listen``."""


def _loopback(listen: str) -> bool:
    try:
        return ipaddress.ip_address(listen.strip()).is_loopback
    except ValueError:
        return False  # not an address the provider takes: not known to be safe


def open_display_violation(props: Mapping[str, Any]) -> str | None:
    """Why a VM's display is open beyond loopback without a password, or None."""
    kind = props.get("graphics")
    if not kind:
        return None
    listen = props.get("graphics_listen") or _DEFAULT_LISTEN
    if not isinstance(listen, str) or _loopback(listen) or props.get("graphics_password"):
        return None
    return (
        f"VM {props.get('vm_name')!r}: its {kind} display listens on {listen}, beyond the "
        "host's loopback, with no graphics_password: set one, or listen on 127.0.0.1 and "
        "reach it through an SSH tunnel"
    )


def open_display_policy(enforcement_level: EnforcementLevel | None) -> Policy:
    return ResourceValidationPolicy(
        name=OPEN_DISPLAY_POLICY,
        description=(
            "Requires a VigoVm's display listening beyond loopback (graphics_listen) to "
            "have a graphics_password."
        ),
        validate=resource_validator(
            TYPE_TOKEN, lambda props, _config: open_display_violation(props)
        ),
        enforcement_level=enforcement_level,
    )
