"""Machine types and architectures: which machine a VM gets, and when two names are one.

libvirt pins a machine alias at define (``q35`` is stored as ``pc-q35-7.2``, ``virt`` as
``virt-7.2``), and a qemu upgrade moves the alias on. Definitions are compared by the
machine's *family* (``q35``, ``pc``, ``virt``), so neither the pinning nor a qemu upgrade
reads as drift (which would redefine, and restart, every VM). Pure: no I/O.
"""

from __future__ import annotations

import re

from ..common.arches import BY_NAME, X86_ARCHES

__all__ = [
    "default_machine",
    "machine_family",
]

_VERSION = re.compile(r"-\d+(?:\.\d+)+$")
_ALIASES = {"pc-q35": "q35", "pc-i440fx": "pc"}


def default_machine(arch: str, efi: bool) -> str:
    """The machine a VM of ``arch`` gets when ``machine`` is not given: ``q35`` for EFI on
    x86 (libvirt's own default, ``pc``, has no SMM for Secure Boot and is legacy for EFI),
    ``pc`` for BIOS x86 (what the previous release's domains run: no restart on upgrade),
    ``virt`` on aarch64 (libvirt's default there, ``integratorcp``, is a 2001 dev board)."""
    if arch in X86_ARCHES:
        return "q35" if efi else "pc"
    known = BY_NAME.get(arch)
    return known.machine if known is not None else "virt"


def machine_family(machine: str) -> str:
    """``pc-q35-7.2`` -> ``q35``, ``pc-i440fx-7.2`` -> ``pc``, ``virt-7.2`` -> ``virt``;
    a name without a version is its own family."""
    unversioned = _VERSION.sub("", machine)
    return _ALIASES.get(unversioned, unversioned)
