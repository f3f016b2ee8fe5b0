"""What a VM needs of its host: the firmware and machine its domain gets, and whether the
host runs it.

The host's facts are :class:`~pulumi_vigo_vm.common.hostcaps.HostPlatform` (read by
:mod:`pulumi_vigo_vm.virt.capabilities`). :func:`require_runnable`
turns a missing piece into one error naming the input and the Debian package to install,
before anything on the host is touched. Pure: no I/O.
"""

from __future__ import annotations

from ..common.arches import BY_NAME, EFI_ONLY_ARCHES, X86_ARCHES
from ..common.hostcaps import HostPlatform
from ..errors import HostError
from .domain_xml import BIOS, EFI, EFI_SECURE
from .machines import default_machine
from .spec import VmSpec

__all__ = [
    "domain_firmware",
    "domain_machine",
    "require_runnable",
]


def domain_firmware(spec: VmSpec, arch: str) -> str:
    """The firmware the domain boots: the input, except that arches without a BIOS boot
    their UEFI for ``bios``."""
    if spec.firmware.value == BIOS and arch in EFI_ONLY_ARCHES:
        return EFI
    return spec.firmware.value


def domain_machine(spec: VmSpec, arch: str) -> str:
    """The ``machine`` input, else the arch's default for the firmware (see machines.py)."""
    if spec.machine is not None:
        return spec.machine
    return default_machine(arch, domain_firmware(spec, arch) != BIOS)


def require_runnable(spec: VmSpec, platform: HostPlatform) -> None:
    """Raise HostError, naming the input and the fix, when the host cannot run ``spec``."""
    arch, where = platform.arch, f"on {spec.uri}"
    if not platform.emulated or platform.caps is None:
        if spec.domain_type == "kvm" and arch != platform.host_arch:
            raise HostError(
                f"arch: KVM runs only the host's own architecture ({platform.host_arch}) "
                f"{where}; set domain_type='qemu' to emulate {arch}"
            )
        package = (
            BY_NAME[arch].emulator_package if arch in BY_NAME else "the qemu-system package for it"
        )
        raise HostError(
            f"arch: {arch} guests cannot run under domain_type={spec.domain_type!r} {where}: "
            f"install the Debian package {package} (apt-get install {package})"
        )
    caps, firmware = platform.caps, domain_firmware(spec, arch)
    if firmware != BIOS and not caps.efi:
        package = (
            BY_NAME[arch].firmware_package if arch in BY_NAME else None
        ) or "the UEFI firmware package for it"
        raise HostError(
            f"firmware: no UEFI firmware for {arch} {where}: install the Debian package "
            f"{package} (apt-get install {package}), which puts its descriptors under "
            "/usr/share/qemu/firmware"
        )
    if firmware == EFI_SECURE and not (arch in X86_ARCHES and caps.secure_boot):
        raise HostError(
            f"firmware: no Secure Boot firmware for {arch} {where}: Secure Boot exists for "
            "x86 q35 guests with the Debian package ovmf (apt-get install ovmf)"
        )
    if spec.tpm and not caps.tpm_emulator:
        raise HostError(
            f"tpm: libvirt finds no swtpm {where}: install the Debian packages swtpm and "
            "swtpm-tools (apt-get install swtpm swtpm-tools) and restart libvirtd"
        )
    mode = spec.cpu.partition(":")[0]
    if mode != "custom" and mode not in caps.cpu_modes:
        offered = ", ".join(sorted(caps.cpu_modes)) or "none"
        raise HostError(
            f"cpu_mode: {mode} is not available for {arch} guests under "
            f"domain_type={spec.domain_type!r} {where} (offered: {offered})"
        )
