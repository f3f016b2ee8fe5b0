"""How a change reaches a VM that runs: live, at its next power cycle, or by a replace.

Two statements of one rule. :data:`TABLE` is the rule per input, as the README shows it
(``tests/unit/test_changes.py`` renders it into the README and drives the plan with a
change of every input to prove the plan does what the row says). :func:`classify` is the
rule per field of the domain definition, as the plan applies it: what the running guest
differs in from the definition it should run, split into what libvirt can change in the
running guest (vCPUs and memory within the maxima it booted with, data disks and NICs
added or removed) and what only a power cycle brings. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from enum import StrEnum

from .domain_xml import DiskDevice, DiskTune, DomainConfig, NicDevice

__all__ = [
    "TABLE",
    "LiveChanges",
    "Reach",
    "Reaching",
    "Row",
    "boot_relevant",
    "classify",
    "readme_table",
]


class Reach(StrEnum):
    """Where a changed input takes effect on a running VM."""

    LIVE = "live"
    """In the running guest and its definition, with no restart."""
    POWER_CYCLE = "next power cycle"
    """The persistent definition now; the guest when it next starts (at once with
    ``restart_on_change``, else when the operator power-cycles it)."""
    REPLACE = "replace"
    """A new VM (delete-before-replace)."""


@dataclass(frozen=True)
class Row:
    """One row of the README's table: some inputs, where their change can land, and when."""

    inputs: tuple[str, ...]
    reaches: tuple[Reach, ...]
    how: str


_L, _P, _R = Reach.LIVE, Reach.POWER_CYCLE, Reach.REPLACE

TABLE: tuple[Row, ...] = (
    Row(("vm_name", "images_dir", "disk_path", "artifact", "disk_mode"), (_R,), "a new VM"),
    Row(
        ("uri",),
        (_R, _L),
        'a new VM; with `on_host_change="migrate"` the VM moved to the other host, live '
        "when it runs ([migration](migration.md))",
    ),
    Row(
        (
            "cloud_init_user_data",
            "cloud_init_vendor_data",
            "cloud_init_network_config",
            "cloud_init_meta_data",
        ),
        (_R, _P),
        'a new VM; with `on_seed_change="reseed"` a new seed at the next power cycle',
    ),
    Row(
        ("disk_size_gib",),
        (_L, _R),
        "larger: grown through qemu (the guest's growpart fills it at its next boot); "
        "smaller: a new VM",
    ),
    Row(
        ("vcpu",),
        (_L, _P),
        "live up to the `max_vcpu` the guest booted with (vCPU hot-plug: the guest onlines "
        "them; a guest may refuse to give one back), above it at the next power cycle",
    ),
    Row(
        ("memory_mib",),
        (_L, _P),
        "live up to the `max_memory_mib` the guest booted with (the virtio balloon), above "
        "it at the next power cycle",
    ),
    Row(
        ("data_disks", "nics", "network_bridge", "network"),
        (_L, _P),
        "a disk or NIC added or removed: hot-plugged (every other device keeps its PCI "
        "slot, MAC and serial); an unplug the guest does not complete within "
        "`shutdown_timeout_s`, a changed device, or a SATA disk: next power cycle",
    ),
    Row(
        (
            "max_vcpu",
            "max_memory_mib",
            "domain_type",
            "firmware",
            "tpm",
            "cpu_mode",
            "machine",
            "arch",
        ),
        (_P,),
        "what the guest boots with",
    ),
    # Hardware and tuning (operations spec §4). libvirt could change some in a running
    # guest (virDomainPinVcpuFlags, virDomainSetNumaParameters in strict mode,
    # virDomainAddIOThread, a PCI/USB hot-plug); the package applies them with the
    # definition, so the guest gets them all at once when it next starts.
    Row(
        ("host_devices", "filesystems", "cpu_pinning", "numa", "hugepages", "iothreads"),
        (_P,),
        "the hardware and tuning the guest boots with (huge pages and shared memory "
        "cannot change under a running guest at all); a data disk's `iothread` likewise",
    ),
    # the tuning and devices an operator sets (operations spec §4)
    Row(
        (
            "disk_cache",
            "disk_io",
            "rng",
            "watchdog",
            "graphics",
            "graphics_listen",
            "graphics_password",
            "boot_order",
        ),
        (_P,),
        "what the guest boots with; so are a data disk's `cache` and `io` and a NIC's "
        "`type`, `vlan` and `bandwidth` (a changed device). libvirt could apply a NIC's "
        "bandwidth and the display's password live (a device update): not done yet",
    ),
    Row(
        ("disk_iops", "disk_bytes_per_s"),
        (_L,),
        "set in the running guest (`virDomainSetBlockIoTune`), as a data disk's `iops` and "
        "`bytes_per_s` are",
    ),
    Row(
        (
            "state",
            "claim",
            "shutdown_timeout_s",
            "wait_for",
            "wait_timeout_s",
            "address_source",
            "on_seed_change",
            "on_host_change",
            "restart_on_change",
            "autostart",
            "adopt",
        ),
        (_L,),
        "nothing the guest runs with (`state`: start, stop or resume only)",
    ),
)


def readme_table() -> str:
    """:data:`TABLE` as the README prints it."""
    lines = ["| input | a running VM gets the change | how |", "|---|---|---|"]
    for row in TABLE:
        names = ", ".join(f"`{name}`" for name in row.inputs)
        reaches = " or ".join(reach.value for reach in row.reaches)
        lines.append(f"| {names} | {reaches} | {row.how} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LiveChanges:
    """What libvirt changes in the running guest (and its persistent definition)."""

    vcpu: int | None = None
    memory_mib: int | None = None
    detach_disks: tuple[DiskDevice, ...] = ()
    attach_disks: tuple[DiskDevice, ...] = ()
    detach_nics: tuple[NicDevice, ...] = ()
    attach_nics: tuple[NicDevice, ...] = ()
    io_limits: tuple[tuple[str, DiskTune], ...] = ()
    """(target, the disk's wanted tuning) whose IO limits change in the running guest."""

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in dataclass_fields(self))


@dataclass(frozen=True)
class Reaching:
    """A running guest's way to its wanted definition: ``live`` now, and the definition's
    fields (:class:`DomainConfig` names) only a power cycle applies."""

    live: LiveChanges
    power_cycle: tuple[str, ...]


_LIVE_FIELDS = ("vcpu", "memory_mib", "data_disks", "nics", "root_tune")
_HOTPLUG_BUSES = ("virtio", "scsi")
"""Buses qemu hot-plugs disks on (SATA's AHCI does not); SCSI only onto a controller the
guest already has (the seed's, or another SCSI disk's)."""


_LETTERS = "bcdefghijklmnopqrstuvwxyz"


def _without_target(disk: DiskDevice) -> DiskDevice:
    """The disk as compared across a live change: its target a hint, its IO limits set
    live (:func:`io_limit_changes`)."""
    return replace(disk, target="", tune=_without_limits(disk.tune))


def _without_limits(tune: DiskTune) -> DiskTune:
    return replace(tune, iops=None, bytes_per_s=None)


def _limits(tune: DiskTune) -> tuple[int | None, int | None]:
    return tune.iops, tune.bytes_per_s


def io_limit_changes(have: DomainConfig, want: DomainConfig) -> tuple[tuple[str, DiskTune], ...]:
    """(target in the running guest, wanted tuning) of each disk, the root (``vda``) and
    every kept data disk, whose IO limits differ (libvirt sets them live)."""
    changes = []
    if _limits(have.root_tune) != _limits(want.root_tune):
        changes.append(("vda", want.root_tune))
    wanted = {d.source: d for d in want.data_disks}
    for disk in have.data_disks:
        new = wanted.get(disk.source)
        if new is not None and _limits(disk.tune) != _limits(new.tune):
            changes.append((disk.target, new.tune))
    return tuple(changes)


def _disk_changes(
    running: tuple[DiskDevice, ...], wanted: tuple[DiskDevice, ...], scsi: bool
) -> tuple[tuple[DiskDevice, ...], tuple[DiskDevice, ...]] | None:
    """(detach, attach) by source, or None when only a power cycle gets there. A kept
    disk keeps its target in the guest (targets are hints; the guest names virtio disks
    by slot), so a kept disk is compared without it."""
    have = {d.source: d for d in running}
    want = {d.source: d for d in wanted}
    for source in have.keys() & want.keys():
        if _without_target(have[source]) != _without_target(want[source]):
            return None
    detach = tuple(d for d in running if d.source not in want)
    attach = []
    taken = {d.target for d in running}  # a detach may not be done when the attach comes
    for disk in (d for d in wanted if d.source not in have):
        if disk.bus not in _HOTPLUG_BUSES or (disk.bus == "scsi" and not scsi):
            return None
        target = disk.target
        if target in taken:
            free = (disk.target[:2] + letter for letter in _LETTERS)
            target = next(t for t in free if t not in taken)
        taken.add(target)
        attach.append(replace(disk, target=target))
    return detach, tuple(attach)


def _nic_changes(
    running: tuple[NicDevice, ...], wanted: tuple[NicDevice, ...]
) -> tuple[tuple[NicDevice, ...], tuple[NicDevice, ...]] | None:
    """(detach, attach) by MAC, or None when a kept NIC changed (only a power cycle)."""
    have = {n.mac: n for n in running}
    want = {n.mac: n for n in wanted}
    if any(have[mac] != want[mac] for mac in have.keys() & want.keys()):
        return None
    return (
        tuple(n for n in running if n.mac not in want),
        tuple(n for n in wanted if n.mac not in have),
    )


def boot_relevant(config: DomainConfig) -> DomainConfig:
    """The structural fields of ``config`` whose change is worth a restart of a running guest.

    Package defaults (the console log's name, the guest agent's channel, the ``<cpu>``
    element, discard) reach the persistent definition at once and the guest at its next
    boot: an upgrade of this package restarts nothing. The CPU is left out for a second
    reason: a running domain reports ``host-model`` expanded to a custom model (and the
    previous release's domains run libvirt's ``qemu64``), so a user's change of
    ``cpu_mode`` is told from the inputs (see ``axes.plan_converge``).
    """
    return replace(
        config.structural(),
        console_log_path=None,
        guest_agent=False,
        cpu_mode=None,
        discard=False,
    )


def classify(running: DomainConfig, wanted: DomainConfig) -> Reaching:
    """Split what ``running`` (the definition the guest runs) differs in from ``wanted``
    (the one it should run) into what libvirt applies live and what waits for a power
    cycle. Only what is worth a restart counts (:func:`boot_relevant`)."""
    have, want = boot_relevant(running), boot_relevant(wanted)
    cycle = [
        f.name
        for f in dataclass_fields(DomainConfig)
        if f.name not in _LIVE_FIELDS and getattr(have, f.name) != getattr(want, f.name)
    ]
    resized: dict[str, int | None] = {}
    for name, maximum in (("vcpu", have.max_vcpu), ("memory_mib", have.max_memory_mib)):
        value: int = getattr(want, name)
        resized[name] = None
        if value != getattr(have, name):
            if maximum is not None and value <= maximum:
                resized[name] = value
            else:
                cycle.append(name)
    scsi = have.seed_iso_path is not None or any(d.bus == "scsi" for d in have.data_disks)
    disks = _disk_changes(have.data_disks, want.data_disks, scsi)
    nics = _nic_changes(have.nics, want.nics)
    cycle += [name for name, found in (("data_disks", disks), ("nics", nics)) if found is None]
    if _without_limits(have.root_tune) != _without_limits(want.root_tune):
        cycle.append("root_tune")  # cache and io only at a power cycle
    detach_disks, attach_disks = disks or ((), ())
    detach_nics, attach_nics = nics or ((), ())
    live = LiveChanges(
        resized["vcpu"],
        resized["memory_mib"],
        detach_disks,
        attach_disks,
        detach_nics,
        attach_nics,
        io_limit_changes(have, want),
    )
    return Reaching(live, tuple(cycle))
