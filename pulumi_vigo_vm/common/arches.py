"""The guest architectures the package knows, each stated once with everything we say of it:
the qemu and firmware packages that run it (for the refusal that names what to install), its
boot (PC BIOS or UEFI only), its default machine, and its name in OCI platforms (curator
artifacts). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["ARCHES", "BY_NAME", "EFI_ONLY_ARCHES", "KNOWN", "X86_ARCHES", "Arch", "oci_arch"]


@dataclass(frozen=True)
class Arch:
    name: str
    """As libvirt and ``uname -m`` spell it."""
    emulator_package: str
    """The Debian package with its ``qemu-system-*`` binary."""
    firmware_package: str | None
    """The Debian package with its UEFI firmware, where it has one."""
    machine: str
    """The machine a VM gets when ``machine`` is not given (x86: see ``default_machine``)."""
    oci: str
    """Its GOARCH-style name in an OCI platform (``linux/amd64``)."""
    pc_bios: bool = False
    """A PC BIOS (SeaBIOS), ``<apic/>``, and Secure Boot (on q35)."""
    efi_only: bool = False
    """Its ``virt`` machine boots only through UEFI (AAVMF and its kin): its ``bios`` is that."""


KNOWN: Final = (
    Arch("x86_64", "qemu-system-x86", "ovmf", "pc", "amd64", pc_bios=True),
    Arch("i686", "qemu-system-x86", "ovmf", "pc", "386", pc_bios=True),
    Arch("aarch64", "qemu-system-arm", "qemu-efi-aarch64", "virt", "arm64", efi_only=True),
    Arch("armv7l", "qemu-system-arm", "qemu-efi-arm", "virt", "arm", efi_only=True),
    Arch("ppc64le", "qemu-system-ppc", None, "pseries", "ppc64le"),
    Arch("ppc64", "qemu-system-ppc", None, "pseries", "ppc64"),
    Arch("s390x", "qemu-system-s390x", None, "s390-ccw-virtio", "s390x"),
    Arch("riscv64", "qemu-system-misc", None, "virt", "riscv64"),
)

BY_NAME: Final = {arch.name: arch for arch in KNOWN}
ARCHES: Final = tuple(arch.name for arch in KNOWN)
"""The values ``arch`` accepts."""
X86_ARCHES: Final = frozenset(arch.name for arch in KNOWN if arch.pc_bios)
EFI_ONLY_ARCHES: Final = frozenset(arch.name for arch in KNOWN if arch.efi_only)

_OCI_ALIASES: Final = {"amd64": "amd64", "arm64": "arm64", "i386": "386"}
"""``uname -m`` spellings of other systems (BSDs, macOS) for the same arches."""


def oci_arch(machine: str) -> str | None:
    """The OCI arch of a host whose ``uname -m`` is ``machine``, or None when unknown."""
    arch = BY_NAME.get(machine)
    return arch.oci if arch is not None else _OCI_ALIASES.get(machine)
