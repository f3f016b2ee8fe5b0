"""Helpers for the policy pack tests: the pack's location and VigoVm resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi_vigo_vm.policies import VIGO_VM_TYPE
from pulumi_vigo_vm.testing.policy import Resource

PACK_DIR = Path(__file__).resolve().parents[2] / "policy"


def vm(name: str, **props: Any) -> Resource:
    """A VigoVm resource named ``name``; ``vm_name`` defaults to the resource name."""
    props.setdefault("vm_name", name)
    return Resource.of(VIGO_VM_TYPE, name, props)
