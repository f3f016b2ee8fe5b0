"""Platform names: ``<os>-<arch>`` as in paths, ``<os>/<arch>`` as OCI and the CLI write it.

The hypervisor's architecture decides which blob of an artifact a VM gets, so the caller
turns ``uname -m`` into a platform with :func:`platform_for_machine`.
"""

from __future__ import annotations

import re

from ..common.arches import oci_arch
from ..errors import CuratorError

__all__ = ["normalise_platform", "platform_for_machine"]

_PLATFORM = re.compile(r"([a-z0-9]+)[-/]([a-z0-9_]+)")


def normalise_platform(text: str) -> str:
    """``linux/amd64`` or ``linux-amd64`` -> ``linux-amd64``; anything else is an error."""
    match = _PLATFORM.fullmatch(text.strip().lower())
    if not match:
        raise CuratorError(
            f"platform {text!r} is not <os>-<arch> or <os>/<arch> (e.g. linux-amd64)"
        )
    return f"{match.group(1)}-{match.group(2)}"


def platform_for_machine(machine: str, os_name: str = "linux") -> str:
    """The platform for a host whose ``uname -m`` is ``machine`` (``x86_64`` -> linux-amd64)."""
    arch = oci_arch(machine.strip())
    if arch is None:
        raise CuratorError(f"no artifact platform is known for machine type {machine!r}")
    return f"{os_name}-{arch}"
