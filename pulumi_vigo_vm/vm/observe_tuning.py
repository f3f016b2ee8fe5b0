"""What a host has for a VM's hardware and tuning inputs: read for the judgement of
:mod:`pulumi_vigo_vm.vm.hostfit`, asking only what the judged inputs need. Reads only.

Everything goes through libvirt (node devices, capabilities, free pages, the domains'
definitions) or the Host abstraction (virtiofsd's vhost-user descriptors, the shared
directories), so a ``qemu+ssh://`` host is asked on that host, never on the runner.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from ..common.hostcaps import parse_host_topology
from ..hosts.base import read_bounded
from ..virt.target import Target
from .domain_xml import host_devices_of
from .hostfit import VHOST_USER_DIRS, HostFit, usb_ids, virtiofsd_binary
from .spec import VmSpec

__all__ = ["observe_tuning"]

_DESCRIPTOR_LIMIT = 64 * 1024
"""A vhost-user descriptor is a few hundred bytes of JSON."""


def observe_tuning(target: Target, spec: VmSpec, judged: frozenset[str]) -> HostFit:
    """The facts :func:`~pulumi_vigo_vm.vm.hostfit.refuse_host_fit` needs for ``judged``."""
    hypervisor = target.hypervisor
    fit = HostFit()
    if "host_devices" in judged:
        fit = _host_devices(target, spec)
    if judged & {"cpu_pinning", "numa", "hugepages"}:
        fit = replace(fit, topology=parse_host_topology(hypervisor.capabilities_xml()))
    if "filesystems" in judged:
        host = target.host
        missing = tuple(
            share.source
            for share in spec.filesystems
            if (found := host.stat(share.source)) is None or found.is_file  # a dir, then
        )
        readonly = any(share.readonly for share in spec.filesystems)
        fit = replace(
            fit,
            virtiofsd=_virtiofsd(target),
            missing_sources=missing,
            library_version=hypervisor.library_version() if readonly else None,
        )
    topology = fit.topology
    if "hugepages" in judged and topology is not None:
        size = topology.default_hugepage_kib if spec.hugepages is True else spec.hugepages
        if isinstance(size, int) and not isinstance(size, bool):
            fit = replace(fit, page_kib=size)
            if size in topology.page_sizes_kib:  # else refused: no such page size
                nodes = max(topology.nodes) + 1
                fit = replace(fit, free_pages=hypervisor.free_pages(size, nodes))
    return fit


def _host_devices(target: Target, spec: VmSpec) -> HostFit:
    """Which of ``spec``'s host devices the host has, and which other domains use them."""
    hypervisor = target.hypervisor
    pci = {
        d.address: hypervisor.node_device_xml(d.node_name) is not None
        for d in spec.host_devices
        if d.kind == "pci"
    }
    usb: dict[str, int] = {}
    if any(d.kind == "usb" for d in spec.host_devices):
        ids = [usb_ids(xml) for xml in hypervisor.usb_devices_xml()]
        usb = {d.address: ids.count(d.address) for d in spec.host_devices if d.kind == "usb"}
    wanted = {d.address for d in spec.host_devices}
    users: dict[str, set[str]] = {}
    for definition in hypervisor.domain_definitions():
        if definition.name == spec.vm_name:
            continue
        for text in (definition.persistent_xml, definition.live_xml):
            for device in host_devices_of(text) if text else ():
                if device.address in wanted:
                    users.setdefault(device.address, set()).add(definition.name)
    return HostFit(
        pci_present=pci,
        usb_matches=usb,
        users={address: tuple(sorted(names)) for address, names in users.items()},
    )


def _virtiofsd(target: Target) -> str | None:
    """The virtiofsd binary libvirt would run: the first vhost-user descriptor of type fs
    (in libvirt's search order) whose binary exists on the host."""
    host = target.host
    for directory in VHOST_USER_DIRS:
        for name in sorted(host.listdir(directory)):
            if not name.endswith(".json"):
                continue
            path = posixpath.join(directory, name)
            try:
                text = read_bounded(host, path, _DESCRIPTOR_LIMIT).decode("utf-8", "replace")
            except OSError:
                continue
            binary = virtiofsd_binary({path: text})
            if binary is not None and host.stat(binary) is not None:
                return binary
    return None
