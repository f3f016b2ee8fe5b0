"""VigoVm: the resource a Pulumi program declares, and VigoVmArgs for those who prefer it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pulumi
from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from .provider import VmProvider

__all__ = ["VigoVm", "VigoVmArgs"]

_OUTPUT_ONLY = (
    "uuid",
    "mac_address",
    "base_path",
    "base_format",
    "artifact_id",
    "overlay_path",
    "seed_iso_path",
    "seed_hash",
    "console_log_path",
    "observed_state",
)


@dataclass
class VigoVmArgs:
    """The inputs of a VigoVm. Integers may also be given as numeric strings ("4096")."""

    vm_name: Input[str]
    memory_mib: Input[int | str]
    vcpu: Input[int | str]
    disk_path: Input[str] | None = None
    artifact: Input[str] | None = None
    state: Input[str] | None = None
    disk_size_gib: Input[int | str] | None = None
    network_bridge: Input[str] | None = None
    cloud_init_user_data: Input[str] | None = None
    uri: Input[str] | None = None
    domain_type: Input[str] | None = None
    images_dir: Input[str] | None = None
    shutdown_timeout_s: Input[int | str] | None = None


class VigoVm(Resource, module="vigo", name="VigoVm"):
    """A libvirt VM: domain, qcow2 overlay over a shared base, NoCloud seed, run state.

    Type token ``pulumi-python:dynamic/vigo:VigoVm``. ``cloud_init_user_data`` is kept
    secret in state. See the package README for the lifecycle and diff rules.
    """

    vm_name: Output[str]
    memory_mib: Output[int]
    vcpu: Output[int]
    disk_path: Output[str | None]
    artifact: Output[str | None]
    state: Output[str]
    disk_size_gib: Output[int | None]
    network_bridge: Output[str | None]
    cloud_init_user_data: Output[str | None]
    uri: Output[str]
    domain_type: Output[str]
    images_dir: Output[str]
    shutdown_timeout_s: Output[int]
    uuid: Output[str]
    """The libvirt domain UUID; stable across redefines."""
    mac_address: Output[str]
    """The NIC's MAC address; stable across redefines."""
    base_path: Output[str | None]
    base_format: Output[str | None]
    artifact_id: Output[str | None]
    overlay_path: Output[str]
    seed_iso_path: Output[str | None]
    seed_hash: Output[str | None]
    console_log_path: Output[str]
    """Where the host keeps the guest's serial console output."""
    observed_state: Output[str]
    """What the host reported after the last operation (running, stopped, absent...)."""

    def __init__(
        self,
        resource_name: str,
        args: VigoVmArgs | None = None,
        opts: ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a VM. Give either ``args`` or the same fields as keyword arguments."""
        props: dict[str, Any] = asdict(args) if args is not None else {}
        unknown = set(kwargs) - set(VigoVmArgs.__dataclass_fields__)
        if unknown:
            raise TypeError(f"VigoVm got unexpected arguments: {', '.join(sorted(unknown))}")
        props.update(kwargs)
        if props.get("cloud_init_user_data") is not None:
            props["cloud_init_user_data"] = pulumi.Output.secret(props["cloud_init_user_data"])
        props.update({name: None for name in _OUTPUT_ONLY})
        secret = ResourceOptions(additional_secret_outputs=["cloud_init_user_data"])
        super().__init__(VmProvider(), resource_name, props, ResourceOptions.merge(secret, opts))
