"""VigoVm: the resource a Pulumi program declares, and VigoVmArgs for those who prefer it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from ..dynamic.claims import claim_for
from ..dynamic.parallel import widen_program_registrations
from ..dynamic.pickling import pristine_pickler
from ..provider import VmProvider
from .fields import INPUTS, OUTPUTS, TYPE_TOKEN

__all__ = ["VigoVm", "VigoVmArgs"]

_OUTPUT_ONLY = tuple(f.name for f in OUTPUTS)
_SECRET_INPUTS = [f.name for f in INPUTS if f.secret]
_SECRET_OUTPUTS = _SECRET_INPUTS + [f.name for f in OUTPUTS if f.secret]
"""Secret in state: user-data, vendor-data, and the seed's hash and name derived from them
(see fields.py)."""


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
    network: Input[str] | None = None
    wait_for: Input[str] | None = None
    wait_timeout_s: Input[int | str] | None = None
    address_source: Input[str] | None = None
    data_disks: Input[list[dict[str, Any]]] | None = None
    nics: Input[list[dict[str, Any]]] | None = None
    cloud_init_network_config: Input[str] | None = None
    cloud_init_vendor_data: Input[str] | None = None
    cloud_init_meta_data: Input[dict[str, Any]] | None = None
    on_seed_change: Input[str] | None = None
    firmware: Input[str] | None = None
    tpm: Input[bool] | None = None
    cpu_mode: Input[str] | None = None
    machine: Input[str] | None = None
    arch: Input[str] | None = None
    autostart: Input[bool] | None = None
    disk_mode: Input[str] | None = None
    adopt: Input[str] | None = None


class VigoVm(Resource, module="vigo", name="VigoVm"):
    """A libvirt VM: domain, qcow2 overlay over a shared base, NoCloud seed, run state.

    Type token ``pulumi-python:dynamic/vigo:VigoVm``. ``cloud_init_user_data`` and
    ``cloud_init_vendor_data`` are kept secret in state. See the package README for the
    lifecycle and diff rules.
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
    network: Output[str | None]
    wait_for: Output[str]
    wait_timeout_s: Output[int]
    address_source: Output[str]
    data_disks: Output[list[dict[str, Any]]]
    """Each data disk as attached (path, format, serial, bus, readonly)."""
    nics: Output[list[dict[str, Any]]]
    cloud_init_network_config: Output[str | None]
    cloud_init_vendor_data: Output[str | None]
    cloud_init_meta_data: Output[dict[str, Any] | None]
    on_seed_change: Output[str]
    uuid: Output[str]
    """The libvirt domain UUID; stable across redefines."""
    mac_address: Output[str]
    """The first NIC's MAC address; stable across redefines (kept without a NIC)."""
    base_path: Output[str | None]
    base_format: Output[str | None]
    artifact_id: Output[str | None]
    overlay_path: Output[str | None]
    seed_iso_path: Output[str | None]
    seed_hash: Output[str | None]
    console_log_path: Output[str]
    """Where the host keeps the serial console output of the guest's current boot."""
    observed_state: Output[str]
    """What the host reported after the last operation (running, stopped, absent...)."""
    base_stamp: Output[str | None]
    """The base file's size, mtime and virtual size when the overlay was built on it."""
    claim: Output[str]
    """The owner named in the domain's marker: this resource's URN (set by VigoVm)."""
    firmware: Output[str]
    """``bios``, ``efi`` or ``efi-secure``; EFI keeps its variables in
    ``<images_dir>/<vm_name>@VARS.fd``."""
    tpm: Output[bool]
    cpu_mode: Output[str]
    """The input, else the domain type's default (``host-passthrough``/``maximum``)."""
    machine: Output[str | None]
    arch: Output[str | None]
    autostart: Output[bool]
    """libvirt starts the VM when its host boots (default: ``state="running"``)."""
    disk_mode: Output[str]
    """``overlay`` (the VM's own overlay over the base) or ``attach`` (``disk_path`` is the
    root itself, never written nor removed by the package)."""
    adopt: Output[str | None]
    """The UUID of the existing domain this VM took over at its create."""
    ip_address: Output[str | None]
    """The first IPv4 address of the first NIC, or None (see ``address_source``)."""
    ip_addresses: Output[list[str]]
    """Every address the host knows for the VM, NIC by NIC, IPv4 first."""
    mac_addresses: Output[list[str]]
    """One MAC per NIC, in order (``mac_address`` is the first)."""

    def __init__(
        self,
        resource_name: str,
        args: VigoVmArgs | None = None,
        opts: ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a VM. Give either ``args`` or the same fields as keyword arguments.

        Every replace of a VigoVm is delete-before-replace: the old and the new VM share
        the domain name, and a create-before-delete would adopt the live domain and then
        have the engine delete it.
        """
        # Shallow on purpose: dataclasses.asdict deep-copies, which an Output refuses.
        props: dict[str, Any] = (
            {f.name: getattr(args, f.name) for f in fields(args)} if args is not None else {}
        )
        unknown = set(kwargs) - set(VigoVmArgs.__dataclass_fields__)
        if unknown:
            raise TypeError(f"VigoVm got unexpected arguments: {', '.join(sorted(unknown))}")
        if opts is not None and opts.delete_before_replace is False:
            raise ValueError(
                f"VigoVm {resource_name!r}: delete_before_replace=False is refused; the old and "
                "the new VM share one domain name, so a replace must delete first"
            )
        props.update(kwargs)
        for name in _SECRET_INPUTS:
            if props.get(name) is not None:
                props[name] = pulumi.Output.secret(props[name])
        props.update({name: None for name in _OUTPUT_ONLY})
        parent = opts.parent if opts is not None else None
        props["claim"] = claim_for(TYPE_TOKEN, resource_name, parent)
        widen_program_registrations()  # so many VMs can be created (and awaited) at once
        defaults = ResourceOptions(
            additional_secret_outputs=_SECRET_OUTPUTS, delete_before_replace=True
        )
        with pristine_pickler():  # pulumi#17803: else the 486th VM raises RecursionError
            super().__init__(
                VmProvider(), resource_name, props, ResourceOptions.merge(defaults, opts)
            )
