"""Moved to :mod:`pulumi_vigo_vm.virt.hypervisor`; this path keeps working."""

from __future__ import annotations

from .model import PowerState
from .virt.hypervisor import Guest, Hypervisor

__all__ = ["Guest", "Hypervisor", "PowerState"]
