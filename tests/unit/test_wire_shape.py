"""A bag the providers return has the shape the SDK reads it back in, so what state records
and what a later call (``read`` on refresh, ``diff``) hands back are equal when nothing
changed: the SDK's own serialiser and deserialiser (pulumi.runtime.rpc), no stand-in."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from google.protobuf.json_format import MessageToDict
from pulumi.runtime import rpc

from pulumi_vigo_vm.disk.spec import DiskSpec
from pulumi_vigo_vm.provider import _outputs
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.devices import DataDisk, Nic
from pulumi_vigo_vm.vm.spec import check_inputs

from ._values import IDENTITY, VALID_PROPS, make_base, make_spec


def recorded(bag: dict[str, Any]) -> dict[str, Any]:
    """``bag`` as state records it: serialised as the provider answers the engine."""
    struct = asyncio.run(rpc.serialize_properties(bag, {}))
    return MessageToDict(struct)


def read_back(bag: dict[str, Any]) -> dict[str, Any]:
    """``bag`` as the provider gets it back from state in a later call."""
    struct = asyncio.run(rpc.serialize_properties(bag, {}))
    back: dict[str, Any] = rpc.deserialize_properties(struct)
    return back


def assert_same_shape(bag: dict[str, Any]) -> None:
    assert recorded(read_back(bag)) == recorded(bag)


def test_vm_outputs_read_back_unchanged_with_every_optional_part_set_or_not() -> None:
    spec = make_spec(
        network_bridge=None,
        nics=(Nic("bridge", "br0"), Nic("network", "default", "52:54:00:aa:bb:cc")),
        data_disks=(DataDisk("/srv/data.qcow2", serial="data"),),
        cloud_init_meta_data={"port": 8080, "tags": ["a", 1]},
        cloud_init_network_config="version: 2\n",
        cpu_mode="maximum",
    )
    for variant in (spec, make_spec(), replace(spec, nics=(Nic("bridge", "br0"),))):
        assert_same_shape(_outputs(variant, make_base(), IDENTITY, "running"))


def test_checked_vm_inputs_read_back_unchanged() -> None:
    props = {**VALID_PROPS, "nics": [{"bridge": "br0"}, {"network": "default", "mac": None}]}
    checked, faults = check_inputs(props, ProviderDefaults())
    assert faults == []
    assert_same_shape(checked)


def test_disk_outputs_read_back_unchanged() -> None:
    spec = DiskSpec("data", 1, claim="organization/urn:pulumi:dev::p::t::data")
    outputs = {**spec.to_inputs(), "path": spec.path, "virtual_size_bytes": 1024**3}
    assert_same_shape({**outputs, "attached_to": []})
    assert_same_shape({**outputs, "attached_to": ["vm-a", "vm-b"]})
