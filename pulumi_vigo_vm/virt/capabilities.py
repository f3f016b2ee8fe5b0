"""What a host can run, read once per run: libvirt's capabilities and domain capabilities.

The parsing and the judgement are :mod:`pulumi_vigo_vm.vm.runnable` (pure); this module only
asks libvirt, and keeps the parsed answers for the provider process's lifetime (one ``up``): a
host's emulators and firmware do not change within a run, and a domcapabilities call probes
qemu, which is worth doing once per (arch, machine), not once per VM.
"""

from __future__ import annotations

from collections.abc import Callable

import libvirt

from ..common.hostcaps import (
    DomainCaps,
    HostPlatform,
    parse_domain_caps,
    parse_guest_arches,
    parse_host_arch,
)
from ..common.once import OncePerKey
from ..errors import HostError, LibvirtCallError
from .hypervisor import Hypervisor

__all__ = ["host_platform"]

_host_arches: OncePerKey[tuple[str, str], tuple[str, frozenset[str]]] = OncePerKey()
_domain_caps: OncePerKey[tuple[str, str, str, str], DomainCaps] = OncePerKey()


def _host(hypervisor: Hypervisor, domain_type: str) -> tuple[str, frozenset[str]]:
    """The host's own arch and the guest arches it runs under ``domain_type``: asked and
    parsed once per (host, domain type), not once per VM (a capabilities document is tens
    of KiB of XML)."""

    def ask() -> tuple[str, frozenset[str]]:
        capabilities = hypervisor.capabilities_xml()
        return parse_host_arch(capabilities), parse_guest_arches(capabilities, domain_type)

    return _host_arches.get((hypervisor.uri, domain_type), ask)


def _domain_capabilities(
    hypervisor: Hypervisor, arch: str, machine: str, virttype: str
) -> DomainCaps:
    return _domain_caps.get(
        (hypervisor.uri, arch, machine, virttype),
        lambda: parse_domain_caps(hypervisor.domain_capabilities_xml(arch, machine, virttype)),
    )


def host_platform(
    hypervisor: Hypervisor, arch: str | None, domain_type: str, machine_of: Callable[[str], str]
) -> HostPlatform:
    """What ``hypervisor`` offers a VM of ``arch`` (None: the host's own) under
    ``domain_type``, on the machine ``machine_of(arch)`` names."""
    own, guest_arches = _host(hypervisor, domain_type)
    wanted = arch or own
    emulated = wanted in guest_arches
    caps = None
    if emulated:
        machine = machine_of(wanted)
        try:
            caps = _domain_capabilities(hypervisor, wanted, machine, domain_type)
        except LibvirtCallError as exc:
            if exc.code != libvirt.VIR_ERR_INVALID_ARG:
                raise
            raise HostError(
                f"machine: {machine!r} is not a machine type of {wanted} guests on "
                f"{hypervisor.uri} (virsh capabilities lists them): {exc}"
            ) from exc
    return HostPlatform(host_arch=own, arch=wanted, emulated=emulated, caps=caps)
