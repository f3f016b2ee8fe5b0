"""Taking over a domain this package did not create (``adopt``, operations spec §1).

Dynamic providers cannot be ``pulumi import``-ed (pulumi/pulumi#16175: the engine's Read for
an import carries no serialized provider), so adoption is an input judged at ``create``:
:func:`adoption_faults` says, before anything changes, why the named domain cannot be taken
over and how to fix it: at check (so ``preview`` shows it, the host being reachable) and again
at create (:func:`refuse_adoption`), whose plan then writes our marker in place and converges
the domain like an update. Pure: the facts come in as values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError, InputFault, NotOwnedError
from .model import Observed
from .ownership import DomainOwner, not_ours
from .spec import VmSpec

__all__ = ["Adoption", "adoption_faults", "refuse_adoption"]


@dataclass(frozen=True)
class Adoption:
    """A create that takes over ``spec.adopt``'s domain, and what the host said of it."""

    busy: tuple[str, ...] = ()
    """The jobs the domain runs (a migration, a block job): refused while any runs."""


def refuse_adoption(
    spec: VmSpec, observed: Observed, owner: DomainOwner, busy: Sequence[str] = ()
) -> None:
    """Raise unless ``observed``'s domain can be adopted (see :func:`adoption_faults`):
    NotOwnedError when it is not the idle, unmarked domain ``spec.adopt`` names, InputError
    naming each disk and NIC the inputs do not declare."""
    whose = _whose_faults(spec, observed, owner, busy)
    if whose:
        raise NotOwnedError("; ".join(f"{f.property}: {f.reason}" for f in whose))
    faults = _undeclared_disks(spec, observed) + _undeclared_nics(spec, observed)
    if faults:
        raise InputError(faults)


def adoption_faults(
    spec: VmSpec, observed: Observed, owner: DomainOwner, busy: Sequence[str] = ()
) -> list[InputFault]:
    """Every reason ``observed``'s domain cannot be adopted, each naming the input and the
    fix; [] unless it is the unmarked domain ``spec.adopt`` names (or this resource's own,
    marked by a crashed adopting run), idle, with every disk and NIC declared by the inputs:
    a device they do not declare is never silently detached. ``busy``: the jobs the domain
    runs (a migration, a block job). Told at check, so preview shows them, and again at
    create."""
    whose = _whose_faults(spec, observed, owner, busy)
    if whose:
        return whose
    return _undeclared_disks(spec, observed) + _undeclared_nics(spec, observed)


def _whose_faults(
    spec: VmSpec, observed: Observed, owner: DomainOwner, busy: Sequence[str]
) -> list[InputFault]:
    """Why the domain is not the one to adopt now: absent, another UUID, marked, busy."""
    live, name, uri = observed.domain, spec.vm_name, spec.uri
    if live is None:
        reason = (
            f"no domain named {name!r} on {uri} to adopt: check vm_name and uri "
            "(virsh list --all), or drop adopt to create a new VM"
        )
        return [InputFault("adopt", reason)]
    if live.config.uuid.lower() != spec.adopt:
        reason = (
            f"the domain named {name!r} on {uri} has the UUID {live.config.uuid}, not "
            f"{spec.adopt}; it is another domain than the one meant: check it "
            f"(virsh dominfo {name}) and give its UUID"
        )
        return [InputFault("adopt", reason)]
    if owner is not DomainOwner.UNMARKED:
        theirs = not_ours(owner, live, spec)  # ours only after a crashed adopting run
        if theirs is not None:
            return [InputFault("vm_name", theirs)]
    if busy:
        reason = (
            f"domain {name!r} on {uri} is running {' and '.join(busy)}; taking it over now "
            "could lose the job's work: wait for it to end (or abort it) and run again"
        )
        return [InputFault("adopt", reason)]
    return []


def _undeclared_disks(spec: VmSpec, observed: Observed) -> list[InputFault]:
    assert observed.domain is not None
    config = observed.domain.config
    faults = []
    if config.overlay_path != spec.root_path:
        faults.append(
            InputFault(
                "disk_path",
                f"domain {spec.vm_name!r} boots from {config.overlay_path or 'no disk'}, not "
                f"{spec.root_path}: set disk_path to its root disk, with disk_mode='attach'",
            )
        )
    declared = {disk.path for disk in spec.data_disks}
    for disk in config.data_disks:
        if disk.source not in declared:
            entry = {
                "path": disk.source,
                "format": disk.format,
                "bus": disk.bus,
                "serial": disk.serial or False,
            }
            faults.append(
                InputFault(
                    "data_disks",
                    f"domain {spec.vm_name!r} has the disk {disk.source} ({disk.target}) that "
                    f"the inputs do not declare; it is never silently detached: add {entry!r} "
                    "to data_disks (or detach it yourself first: virsh detach-disk)",
                )
            )
    return faults


def _undeclared_nics(spec: VmSpec, observed: Observed) -> list[InputFault]:
    assert observed.domain is not None
    declared = {nic.mac for nic in spec.all_nics if nic.mac}
    faults = []
    for nic in observed.domain.config.nics:
        if nic.mac is None or nic.mac.lower() not in declared:
            source = (  # a macvtap NIC is declared by its type, dev and mode
                f"'type': 'direct', 'dev': {nic.source!r}, 'mode': {nic.mode!r}"
                if nic.kind == "direct"
                else f"{nic.kind!r}: {nic.source!r}"
            )
            faults.append(
                InputFault(
                    "nics",
                    f"domain {spec.vm_name!r} has the NIC {nic.mac} ({nic.kind} {nic.source!r}) "
                    "that the inputs do not declare; it is never silently removed: add "
                    f"{{{source}, 'mac': {nic.mac!r}}} to nics (or detach "
                    "it yourself first: virsh detach-interface)",
                )
            )
    return faults
