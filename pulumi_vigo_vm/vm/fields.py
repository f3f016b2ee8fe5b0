"""Every field of a VigoVm, stated once: its inputs and outputs, with type, default, secrecy,
validator and what a change does.

The rest is derived from this table: the provider's validation and defaults
(:mod:`pulumi_vigo_vm.vm.spec`), which inputs replace and which update (:func:`axes.diff`),
which inputs force a replace while unknown in preview, the resource's output-only and secret
keys (:mod:`pulumi_vigo_vm.vm.resource`). ``VigoVmArgs`` and ``VigoVm`` spell the fields out for
type checkers and editors; ``tests/unit/test_fields.py`` fails when they, the provider's
outputs, the diff rules or the README disagree with this table. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from . import devices, inputs
from .inputs import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_WAIT_TIMEOUT_S,
    AddressSource,
    DiskMode,
    Firmware,
    RunState,
    SeedChange,
    WaitFor,
)

if TYPE_CHECKING:
    from ..spec import ProviderDefaults

__all__ = [
    "INPUTS",
    "OUTPUTS",
    "TYPE_TOKEN",
    "Change",
    "InputField",
    "OutputField",
    "input_field",
]

TYPE_TOKEN = "pulumi-python:dynamic/vigo:VigoVm"
"""The type of every VigoVm in state (``module="vigo", name="VigoVm"`` of a dynamic
resource); policies find VMs by it."""


class Change(StrEnum):
    """What a changed input does to the VM."""

    UPDATE = "update"  # converged in place
    REPLACE = "replace"  # a new VM, delete-before-replace
    RULE = "rule"  # depends on the other fields or the host: axes.INPUT_RULES[rule]


@dataclass(frozen=True)
class InputField:
    """One input: also an output of the same name (normalised)."""

    name: str
    annotation: str
    """The type users may pass, as ``VigoVmArgs`` declares it (without ``Input[...]``)."""
    validate: Callable[[Any], Any]
    change: Change
    rule: str | None = None
    default: Callable[[ProviderDefaults], Any] | None = None
    required: bool = False
    secret: bool = False
    set_by_resource: bool = False
    """Computed by VigoVm at declaration, never given by users."""

    @property
    def replaces_when_unknown(self) -> bool:
        """While unknown in preview, a change of this input is assumed to replace the VM."""
        return self.change is Change.REPLACE or self.rule in ("base", "seed")


@dataclass(frozen=True)
class OutputField:
    """A field the provider computes (inputs are outputs too: see :data:`INPUTS`)."""

    name: str
    annotation: str
    secret: bool = False


def _rule(name: str) -> dict[str, Any]:
    return {"change": Change.RULE, "rule": name}


_INT = "int | str"

INPUTS: tuple[InputField, ...] = (
    InputField("vm_name", "str", inputs.vm_name, Change.REPLACE, required=True),
    InputField("memory_mib", _INT, inputs.memory_mib, Change.UPDATE, required=True),
    InputField("vcpu", _INT, inputs.vcpu, Change.UPDATE, required=True),
    InputField("disk_path", "str", inputs.disk_path, **_rule("base")),
    InputField("artifact", "str", inputs.artifact, **_rule("base")),
    InputField(
        "state", "str", inputs.state, Change.UPDATE, default=lambda _: RunState.RUNNING.value
    ),
    InputField("disk_size_gib", _INT, inputs.disk_size_gib, **_rule("size")),
    InputField("network_bridge", "str", inputs.network_bridge, Change.UPDATE),
    InputField(
        "cloud_init_user_data", "str", inputs.cloud_init_user_data, **_rule("seed"), secret=True
    ),
    InputField("uri", "str", inputs.uri, Change.REPLACE, default=lambda d: d.uri),
    InputField(
        "domain_type", "str", inputs.domain_type, Change.UPDATE, default=lambda d: d.domain_type
    ),
    InputField(
        "images_dir", "str", inputs.images_dir, Change.REPLACE, default=lambda d: d.images_dir
    ),
    InputField(
        "shutdown_timeout_s",
        _INT,
        inputs.shutdown_timeout_s,
        Change.UPDATE,
        default=lambda _: DEFAULT_SHUTDOWN_TIMEOUT_S,
    ),
    InputField("network", "str", inputs.network, Change.UPDATE),
    InputField(
        "wait_for", "str", inputs.wait_for, Change.UPDATE, default=lambda _: WaitFor.NONE.value
    ),
    InputField(
        "wait_timeout_s",
        _INT,
        inputs.wait_timeout_s,
        Change.UPDATE,
        default=lambda _: DEFAULT_WAIT_TIMEOUT_S,
    ),
    InputField(
        "address_source",
        "str",
        inputs.address_source,
        Change.UPDATE,
        default=lambda _: AddressSource.ANY.value,
    ),
    InputField("claim", "str", inputs.claim, Change.UPDATE, set_by_resource=True),
    InputField("data_disks", "list[dict[str, Any]]", devices.data_disks, Change.UPDATE),
    InputField("nics", "list[dict[str, Any]]", devices.nics, Change.UPDATE),
    InputField(
        "cloud_init_network_config", "str", inputs.cloud_init_network_config, **_rule("seed")
    ),
    InputField(
        "cloud_init_vendor_data",
        "str",
        inputs.cloud_init_vendor_data,
        **_rule("seed"),
        secret=True,
    ),
    InputField(
        "cloud_init_meta_data", "dict[str, Any]", inputs.cloud_init_meta_data, **_rule("seed")
    ),
    InputField(
        "on_seed_change",
        "str",
        inputs.on_seed_change,
        Change.UPDATE,
        default=lambda _: SeedChange.REPLACE.value,
    ),
    InputField(
        "firmware", "str", inputs.firmware, Change.UPDATE, default=lambda _: Firmware.BIOS.value
    ),
    InputField("tpm", "bool", inputs.flag, Change.UPDATE, default=lambda _: False),
    # Its default depends on domain_type (an input): spec.check_inputs derives it.
    InputField("cpu_mode", "str", inputs.cpu_mode, Change.UPDATE),
    InputField("machine", "str", inputs.machine, Change.UPDATE),
    InputField("arch", "str", inputs.arch, Change.UPDATE),
    # Its default depends on state (an input): spec.check_inputs derives it. Set with
    # virDomainSetAutostart, never by a redefine: an update changes it without a restart.
    InputField("autostart", "bool", inputs.flag, Change.UPDATE),
    InputField(
        "disk_mode",
        "str",
        inputs.disk_mode,
        Change.REPLACE,
        default=lambda _: DiskMode.OVERLAY.value,
    ),
    # Matters at create only (operations spec §1): a change later changes nothing.
    InputField("adopt", "str", inputs.adopt, **_rule("adopt")),
)

OUTPUTS: tuple[OutputField, ...] = (
    OutputField("uuid", "str"),
    OutputField("mac_address", "str"),
    OutputField("base_path", "str | None"),
    OutputField("base_format", "str | None"),
    OutputField("artifact_id", "str | None"),
    OutputField("base_stamp", "str | None"),
    OutputField("overlay_path", "str | None"),  # None: an attached root (disk_mode)
    # Derived from the secret user-data and vendor-data (a short unsalted digest): secret too.
    OutputField("seed_iso_path", "str | None", secret=True),
    OutputField("seed_hash", "str | None", secret=True),
    OutputField("console_log_path", "str"),
    OutputField("observed_state", "str"),
    OutputField("ip_address", "str | None"),
    OutputField("ip_addresses", "list[str]"),
    OutputField("mac_addresses", "list[str]"),
)

_BY_NAME = {f.name: f for f in INPUTS}


def input_field(name: str) -> InputField:
    """The input called ``name``."""
    return _BY_NAME[name]
