"""The house's load-bearing claims, checked where a reader of the layout cannot see them.

* The providers pickled into every stack's state name exactly the classes fleet.md §0 pins:
  dill records a class by its module, so a class that moved (or a re-export) would change
  every resource's ``__provider`` and make the engine see an update on each of them.
* Importing the policy pack or a pure module loads no libvirt, paramiko, pycdlib or
  requests (a fresh interpreter proves it: this process has long loaded them all).
"""

from __future__ import annotations

import base64
import pickletools
import subprocess
import sys

import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_vigo_vm.baseimage.provider import BaseImageProvider
from pulumi_vigo_vm.disk.provider import DiskProvider
from pulumi_vigo_vm.dynamic.pickling import pristine_pickler
from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.snapshot.provider import SnapshotProvider
from pulumi_vigo_vm.stateid import StateIdProvider

PINNED = {
    VmProvider: {"pulumi_vigo_vm.provider.VmProvider", "pulumi_vigo_vm.spec.ProviderDefaults"},
    DiskProvider: {
        "pulumi_vigo_vm.disk.provider.DiskProvider",
        "pulumi_vigo_vm.spec.ProviderDefaults",
    },
    BaseImageProvider: {
        "pulumi_vigo_vm.baseimage.provider.BaseImageProvider",
        "pulumi_vigo_vm.spec.ProviderDefaults",
    },
    SnapshotProvider: {
        "pulumi_vigo_vm.snapshot.provider.SnapshotProvider",
        "pulumi_vigo_vm.spec.ProviderDefaults",
    },
    StateIdProvider: {"pulumi_vigo_vm.stateid.StateIdProvider"},
}


def _globals_named(blob: str) -> set[str]:
    """The ``module.name`` of every global a pickle refers to, ours only."""
    found: set[str] = set()
    strings: list[str] = []
    for opcode, arg, _pos in pickletools.genops(base64.b64decode(blob)):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(str(arg))
        elif opcode.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]}.{strings[-1]}")
        elif opcode.name == "GLOBAL":
            found.add(str(arg).replace(" ", "."))
    return {name for name in found if name.startswith("pulumi_vigo_vm")}


@pytest.mark.parametrize("provider_class", list(PINNED), ids=lambda c: c.__name__)
def test_a_provider_pickled_today_names_exactly_the_pinned_classes(
    provider_class: type[ResourceProvider],
) -> None:
    with pristine_pickler():
        blob = serialize_provider(provider_class())
    assert _globals_named(blob) == PINNED[provider_class]


@pytest.mark.parametrize(
    "module",
    [
        "pulumi_vigo_vm",
        "pulumi_vigo_vm.policies",
        "pulumi_vigo_vm.vm.spec",
        "pulumi_vigo_vm.vm.axes",
        "pulumi_vigo_vm.vm.domain_xml",
        "pulumi_vigo_vm.disk.plan",
        "pulumi_vigo_vm.snapshot.plan",
        "pulumi_vigo_vm.baseimage.spec",
    ],
)
def test_importing_the_policy_pack_or_a_pure_module_loads_no_effects(module: str) -> None:
    script = (
        f"import sys, {module}\n"
        "print(' '.join(m for m in ('libvirt', 'paramiko', 'pycdlib', 'requests', 'oras')"
        " if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert loaded == []
