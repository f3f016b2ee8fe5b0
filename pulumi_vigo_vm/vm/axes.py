"""The four idempotency axes: what differs between a VmSpec and the host, and what to do.

1. the domain is defined, and its definition matches (memory, vcpu, bridge, domain type);
2. the overlay exists and is backed by the desired base;
3. the seed ISO exists under the name that hashes the current user-data;
4. the run state matches.

:func:`diff` answers the engine's Diff (update or replace, per the spec's table) from the
previous outputs, the new spec and, when the host was reachable, what it reports.
:func:`plan_converge` and :func:`plan_remove` turn a spec and an observation into an
ordered :class:`Plan` for the executor. Pure: no I/O; all host facts come in as values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import Any, Literal

from ..common.hostcaps import HostPlatform
from ..errors import ImageError, InputFault
from ..hostfile.imageformat import ImageInfo, refusal
from ..virt.power import PowerState
from .adoption import Adoption, refuse_adoption
from .changes import LiveChanges, boot_relevant, classify
from .devices import DataDisk, DiskBus, assign_macs
from .domain_xml import (
    BIOS,
    DEFAULT_BOOT_ORDER,
    KEPT_UNLESS_GIVEN,
    DiskDevice,
    DomainConfig,
    GraphicsDevice,
    LiveDomain,
    NicDevice,
    WatchdogDevice,
)
from .fields import INPUTS, Change
from .filenames import console_log_path
from .model import AttachedDisk, Identity, NicSource, Observed, Recorded, ResolvedBase
from .ownership import (
    Candidates,
    DomainOwner,
    FileFacts,
    owner_of,
    recorded_overlay,
    removable_files,
    require_nvram_ours,
    require_ours,
)
from .runnable import domain_firmware, domain_machine, require_runnable
from .spec import HostChange, RunState, SeedChange, VmSpec

__all__ = [
    "Action",
    "DiffDecision",
    "Identity",
    "Observed",
    "Plan",
    "Recorded",
    "ResolvedBase",
    "attached_root_fault",
    "console_log_path",
    "definition_inputs",
    "desired_domain",
    "diff",
    "keep_identity",
    "moves",
    "pending_inputs",
    "plan_converge",
    "plan_remove",
    "refuse_attached_root",
    "refuse_data_disks",
    "refuse_nic_sources",
]

_STOPPED_STATES = (PowerState.SHUTOFF, PowerState.CRASHED)


class Action(StrEnum):
    """One step of a plan. The executor runs them in the order the plan lists them."""

    FETCH_BASE = "fetch-base"
    WRITE_SEED = "write-seed"
    CREATE_OVERLAY = "create-overlay"
    GROW_OVERLAY = "grow-overlay"
    APPLY_LIVE = "apply-live"
    """vCPUs, memory and hot-plugged devices changed in the running guest (Plan.live)."""
    DEFINE = "define"
    WRITE_MARKER = "write-marker"
    SET_AUTOSTART = "set-autostart"
    SHUTDOWN = "shutdown"
    START = "start"
    RESUME = "resume"
    WAKEUP = "wakeup"
    DESTROY = "destroy"
    UNDEFINE = "undefine"
    REMOVE_FILES = "remove-files"


@dataclass(frozen=True)
class Plan:
    """Ordered actions, and the definition a DEFINE action writes."""

    actions: tuple[Action, ...]
    domain: DomainConfig | None = None
    domain_is_new: bool = False
    """DEFINE makes a domain that did not exist (so a failed create must undefine it)."""
    removals: tuple[str, ...] = ()
    """The files REMOVE_FILES deletes: each one proven ours (see ownership.py)."""
    live: LiveChanges = field(default_factory=LiveChanges)
    """What APPLY_LIVE changes in the running guest."""
    pending: tuple[str, ...] = ()
    """The inputs the running guest gets only at its next power cycle, which this plan
    leaves to the operator (``restart_on_change=False``)."""

    @property
    def mutates(self) -> bool:
        return bool(self.actions)

    @property
    def boots(self) -> bool:
        """The guest (re)starts from its persistent definition in this plan."""
        return Action.START in self.actions


@dataclass(frozen=True)
class DiffDecision:
    """The engine-facing answer: which inputs force a replace, and why anything differs.

    ``updates`` names the inputs an update converges, whether the user changed them or the
    host drifted from them (what the engine shows as ``[diff: ...]``); ``reasons`` says why,
    for the log."""

    replaces: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())
    updates: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.replaces or self.reasons)

    @property
    def delete_before_replace(self) -> bool:
        """Every replace: two domains of one name cannot coexist, and a create-before-delete
        would adopt the live domain (same owner) and then delete it."""
        return bool(self.replaces)


_DISK_LETTERS = "bcdefghijklmnopqrstuvwxyz"
"""Data disk targets after the root (vda) and the seed (sda): vdb, vdc... on virtio and
sdb, sdc... on SCSI/SATA, in list order."""


def _data_disk_devices(disks: tuple[DataDisk, ...]) -> tuple[DiskDevice, ...]:
    counts = {"vd": 0, "sd": 0}
    devices = []
    for disk in disks:
        prefix = "vd" if disk.bus is DiskBus.VIRTIO else "sd"
        target = prefix + _DISK_LETTERS[counts[prefix]]
        counts[prefix] += 1
        devices.append(
            DiskDevice(
                disk.path,
                target,
                disk.bus.value,
                disk.format,
                disk.serial,
                disk.readonly,
                disk.iothread,
                disk.tune,
            )
        )
    return tuple(devices)


def _root_format(spec: VmSpec, live: DomainConfig | None, base: ResolvedBase | None) -> str:
    """An overlay is qcow2. An attached root keeps the format our definition gives it (a
    guest may write any bytes into a raw disk, a qcow2 header too: a probe never overrules
    the definition); a new one has the format its bytes show."""
    if spec.owns_root:
        return "qcow2"
    if live is not None and live.overlay_path == spec.root_path:
        return live.root_format
    return base.format if base is not None and base.format else "raw"


def _nvram_path(spec: VmSpec, live: DomainConfig | None) -> str:
    """The VM's UEFI variables: ours, or those an adopted domain already boots with (its
    boot entries are in them; the file is not ours, see :func:`plan_remove`)."""
    if spec.adopt is not None and live is not None and live.nvram_path is not None:
        return live.nvram_path
    return spec.nvram_path


def desired_domain(
    spec: VmSpec,
    identity: Identity,
    platform: HostPlatform | None = None,
    base: ResolvedBase | None = None,
    live: DomainConfig | None = None,
) -> DomainConfig:
    """The definition ``spec`` asks for, carrying ``identity`` (one MAC per NIC), on the
    host ``platform`` describes (its arch is the VM's unless ``arch`` is given), replacing
    ``live`` (our current definition, if any) with a ``base`` resolved on that host."""
    macs = assign_macs(spec.all_nics, identity.macs, identity.mac_address)  # as kept, if kept
    nics = tuple(
        NicDevice(
            nic.kind,
            nic.source,
            mac,
            nic.model.value,
            nic.mode,
            nic.vlan,
            nic.inbound,
            nic.outbound,
            nic.virtualport,
        )
        for nic, mac in zip(spec.all_nics, macs, strict=True)
    )
    arch = spec.arch or (platform.arch if platform is not None else None)
    firmware = domain_firmware(spec, arch) if arch else spec.firmware.value
    return DomainConfig(
        name=spec.vm_name,
        uuid=identity.uuid,
        memory_mib=spec.memory_mib,
        vcpu=spec.vcpu,
        max_vcpu=spec.vcpu_max,
        max_memory_mib=spec.memory_max_mib,
        domain_type=spec.domain_type,
        overlay_path=spec.root_path,
        root_format=_root_format(spec, live, base),
        seed_iso_path=spec.seed_iso_path,
        console_log_path=console_log_path(spec.vm_name),
        guest_agent=True,
        nics=nics,
        data_disks=_data_disk_devices(spec.data_disks),
        arch=arch,
        machine=domain_machine(spec, arch) if arch else spec.machine,
        firmware=firmware,
        nvram_path=_nvram_path(spec, live) if firmware != BIOS else None,
        tpm=spec.tpm,
        cpu_mode=spec.cpu,
        discard=True,
        host_devices=spec.host_devices,
        filesystems=spec.filesystems,
        cpu_pinning=spec.cpu_pinning,
        numa=spec.numa,
        hugepages=spec.hugepages,
        iothreads=spec.iothreads,
        **operator_devices(spec, live),
    ).canonical()


# --- the tuning and devices an operator sets (operations spec §4) ---


def operator_devices(spec: VmSpec, live: DomainConfig | None) -> dict[str, Any]:
    """The root's tuning, RNG, watchdog, display and boot order ``spec`` asks for. A watchdog
    or display whose input is omitted is the domain's own, carried over unwritten (``kept``:
    a display added by hand, or libvirt's implicit watchdog, is no drift and stays)."""
    watchdog = graphics = None
    if spec.watchdog is not None:
        watchdog = WatchdogDevice(spec.watchdog.model.value, spec.watchdog.action.value)
    elif live is not None and live.watchdog is not None:
        watchdog = replace(live.watchdog, kept=True)
    if spec.graphics is not None:
        graphics = GraphicsDevice(spec.graphics, spec.graphics_listen, spec.graphics_password)
    elif live is not None and live.graphics is not None:
        graphics = replace(live.graphics, kept=True)
    return {
        "root_tune": spec.root_tune,
        "rng": spec.rng,
        "watchdog": watchdog,
        "graphics": graphics,
        "boot_order": spec.boot_order or DEFAULT_BOOT_ORDER,
    }


def password_changed(spec: VmSpec, recorded: Recorded | None) -> bool:
    """The display's password differs from the one recorded: libvirt never reports it to
    the package, so only the inputs tell (a redefine writes it)."""
    return (
        recorded is not None
        and spec.graphics is not None
        and recorded.spec.graphics_password != spec.graphics_password
    )


def keep_identity(
    spec: VmSpec, live: DomainConfig | None, recorded: Recorded | None, fresh: Identity
) -> Identity:
    """The identity ``spec``'s VM keeps: the UUID and MACs of our live domain (``live``),
    else those our outputs recorded, else ``fresh``; a MAC for every NIC (see
    :func:`pulumi_vigo_vm.vm.devices.assign_macs`)."""
    kept = recorded.identity if recorded is not None and recorded.identity else fresh
    uuid, first = kept.uuid, kept.mac_address
    previous = recorded.mac_addresses if recorded is not None else ()
    if live is not None:
        uuid, first, previous = live.uuid, live.mac_address or first, live.macs
    macs = assign_macs(spec.all_nics, previous, first)
    return Identity(uuid, macs[0] if macs else first, macs)


def _overlay_actions(
    spec: VmSpec,
    observed: Observed,
    base: ResolvedBase,
    recorded: Recorded | None,
) -> list[Action]:
    if not spec.owns_root:
        return []  # an attached root is used as it is (judged by refuse_attached_root)
    overlay = observed.overlay
    if base.path == spec.overlay_path:
        raise ImageError(
            f"disk_path: the base {base.path} is this VM's own overlay path; keep bases out of "
            "<images_dir>/<vm_name>.qcow2 (move the base, or change vm_name or images_dir)"
        )
    if overlay is None:
        return [Action.CREATE_OVERLAY]
    referenced = observed.domain is not None and observed.domain.config.overlay_path == overlay.path
    if not (referenced or recorded_overlay(recorded, overlay, spec.root_backing)):
        raise ImageError(
            f"overlay {overlay.path} already exists, but no domain of this VM references it and "
            "this stack did not record it; it may hold another VM's data, so it is left alone: "
            "move it away (or choose another vm_name) and run again"
        )
    if not spec.root_backing and overlay.backing_file is not None:
        raise ImageError(
            f"root copy {overlay.path} has a backing file ({overlay.backing_file}), so it is "
            "no copy this VM made; it may hold a VM's data, so it is left alone: move it away, "
            "or replace the VM (pulumi up --replace) to copy the base again"
        )
    if spec.root_backing and overlay.backing_file != base.path:
        raise ImageError(
            f"overlay {overlay.path} exists but is backed by {overlay.backing_file or 'nothing'}, "
            f"not {base.path}; it may hold a VM's data, so it is left alone: move it away, "
            "or replace the VM (pulumi up --replace) to rebuild it"
        )
    wanted = spec.disk_size_bytes
    if wanted is None or wanted == overlay.virtual_size:
        return []
    if wanted > overlay.virtual_size:
        return [Action.GROW_OVERLAY]
    raise ImageError(
        f"disk_size_gib: {spec.disk_size_gib} GiB is smaller than overlay {overlay.path} "
        f"({overlay.virtual_size / 1024**3:.1f} GiB); shrinking would lose data, so the VM "
        "must be replaced"
    )


def _power_actions(spec: VmSpec, power: PowerState | None, redefined: bool) -> list[Action]:
    active = power is not None and power.is_active
    if spec.state is RunState.STOPPED:
        return [Action.SHUTDOWN] if active else []
    if spec.state is not RunState.RUNNING:
        return []
    if (redefined and active) or power in (PowerState.SHUTTING_DOWN, PowerState.UNKNOWN):
        return [Action.SHUTDOWN, Action.START]
    if power is PowerState.PAUSED:
        return [Action.RESUME]
    if power is PowerState.SUSPENDED:
        return [Action.WAKEUP]
    if power is None or power in _STOPPED_STATES:
        return [Action.START]
    return []


def refuse_data_disks(spec: VmSpec, disks: Sequence[AttachedDisk], base: ResolvedBase) -> None:
    """Raise ImageError naming every data disk that cannot be attached safely: missing, no
    regular file (nor block device), one of this VM's own files, not the format declared or
    naming other files in its header (a qcow2 attached raw hands the guest a header the host
    reads later: :func:`~pulumi_vigo_vm.hostfile.imageformat.refusal`), another resource's file (a
    VigoBaseImage's base), or written by another domain (two writers corrupt a disk;
    writing a file others read, as a disk or a backing file, corrupts theirs).

    Planning asks it from what was observed; the define asks it again from a listing taken
    at the act (:class:`~pulumi_vigo_vm.vm.effects.Executor`'s ``define_check``)."""
    own = {base.path: "this VM's base", spec.overlay_path: "this VM's own overlay"}
    problems = []
    for index, found in enumerate(disks):
        where = f"data_disks[{index}] {found.disk.path}"
        if not found.present:
            problems.append(
                f"{where} does not exist on {spec.uri}: create it first (a VigoDisk, whose "
                "path you pass as an Output so the disk is made before the VM)"
            )
        elif found.unreadable is not None:
            problems.append(
                f"{where} is a {found.unreadable}, not a regular file or block device; it is "
                "never opened: give the path of a disk image (a VigoDisk's path)"
            )
        elif found.path in own:
            problems.append(f"{where} is {own[found.path]}; attach a disk of its own")
        elif (
            problem := refusal(found.disk.format, found.probed or "raw", found.image)
        ) is not None:
            problems.append(f"{where} {problem}")
        elif found.owner_claim is not None and not found.disk.readonly:
            problems.append(
                f"{where} is the file of another resource ({found.owner_claim}), not a "
                "VigoDisk; a guest writing it would change what others read from it (a base "
                "image: every VM built on it later): attach it with readonly=True, or attach "
                "a VigoDisk"
            )
        elif found.writers:
            problems.append(
                f"{where} is already attached writable to {', '.join(found.writers)}; two "
                "writers corrupt a disk: detach it there first"
            )
        elif found.readers and not found.disk.readonly:
            problems.append(
                f"{where} is read by {', '.join(found.readers)} (as a disk or a backing file); "
                "writing it would corrupt theirs: attach it with readonly=True"
            )
    if problems:
        raise ImageError("; ".join(problems))


def refuse_attached_root(spec: VmSpec, found: AttachedDisk | None) -> None:
    """Raise ImageError when an attached root (``found``) cannot be booted from safely (see
    :func:`attached_root_fault`)."""
    fault = attached_root_fault(found)
    if fault is not None:
        raise ImageError(f"{fault.property} {fault.reason}")


def attached_root_fault(found: AttachedDisk | None) -> InputFault | None:
    """Why an attached root (``found``) cannot be booted from safely, as the fault of
    ``disk_path``: the file of another resource (a VigoBaseImage's base, which overlays
    read), or one another domain writes or reads (two writers corrupt a disk). None for an
    overlay or a root no one else uses."""
    if found is None:
        return None
    where = f"{found.disk.path} (disk_mode='attach')"
    if found.owner_claim is not None:
        reason = (
            f"{where} is the file of another resource ({found.owner_claim}); booting from it "
            "would change what others read from it (a base image: every VM built on it): use "
            "disk_mode='overlay' over it, or attach a VigoDisk"
        )
    elif found.writers:
        reason = (
            f"{where} is already attached writable to {', '.join(found.writers)}; two writers "
            "corrupt a disk: detach it there first"
        )
    elif found.readers:
        reason = (
            f"{where} is read by {', '.join(found.readers)} (as a disk or a backing file); "
            "booting from it would corrupt theirs: detach it there first, or use "
            "disk_mode='overlay' over it"
        )
    else:
        return None
    return InputFault("disk_path", reason)


def refuse_nic_sources(
    spec: VmSpec, sources: Mapping[int, NicSource], host: str
) -> list[InputFault]:
    """One fault per NIC whose bridge or network the host lacks (or, for a VM to run, whose
    network is stopped), naming the input that gave it: libvirt defines such a domain and
    fails only at its start, so a ``defined`` VM would be reported made and then never boot.
    ``sources``: by the NIC's position in :attr:`VmSpec.all_nics`."""
    faults = []
    for index, found in sorted(sources.items()):
        nic = found.nic
        if spec.nics:
            key = "dev" if nic.kind == "direct" else nic.kind
            prop, what = "nics", f"[{index}].{key} {nic.source!r}"
        else:
            prop = "network_bridge" if nic.kind == "bridge" else "network"
            what = repr(nic.source)
        if nic.kind == "bridge" and not found.present and nic.virtualport is not None:
            reason = (
                f"{what} has a vlan, so it is an Open vSwitch port, but "
                + (
                    f"{nic.source!r} is a Linux bridge on {host}, which libvirt cannot tag"
                    if found.linux_bridge
                    else f"Open vSwitch on {host} has no bridge {nic.source!r} (ovs-vsctl "
                    "br-exists)"
                )
                + ": name an Open vSwitch bridge (ovs-vsctl list-br; create one with "
                f"ovs-vsctl add-br), or drop vlan and use a Linux bridge on a host VLAN "
                f"interface (ip link add link eth0 name eth0.{nic.vlan} type vlan id {nic.vlan})"
            )
        elif nic.kind == "bridge" and not found.present:
            reason = (
                f"{what} is not a bridge on {host} (no /sys/class/net/{nic.source}/bridge "
                f"there): create it on the host (ip link add {nic.source} type bridge) or name "
                "an existing one (ip -br link show type bridge)"
            )
        elif nic.kind == "direct" and not found.present:
            reason = (
                f"{what}: no network interface of that name on {host} (no "
                f"/sys/class/net/{nic.source} there) to put the macvtap NIC on: name an "
                "existing one (ip -br link show), or create it on the host first"
            )
        elif nic.kind == "network" and not found.present:
            reason = (
                f"{what}: no libvirt network of that name on {spec.uri}: define and start "
                "it there (virsh net-define, net-start, net-autostart) or name one that "
                "virsh net-list --all shows"
            )
        elif not found.active and spec.state is RunState.RUNNING:
            reason = (
                f"{what}: libvirt network on {spec.uri} is not running, so the VM could "
                f"not start: virsh net-start {nic.source} (and net-autostart), or "
                "state='defined'"
            )
        else:
            continue
        faults.append(InputFault(prop, reason))
    return faults


def plan_converge(
    spec: VmSpec,
    observed: Observed,
    base: ResolvedBase,
    identity: Identity,
    recorded: Recorded | None = None,
    disks: Sequence[AttachedDisk] = (),
    root: AttachedDisk | None = None,
    adoption: Adoption | None = None,
) -> Plan:
    """The actions that make the host match a spec whose state is running/stopped/defined.

    A new domain is defined first, marked with our claim, before any file is made: a
    crashed create then leaves something the next run recognises as its own, and of two
    creates of one VM at once only the first define succeeds (the loser has made nothing).

    Raises NotOwnedError for a same-named domain that is not ours and ImageError where
    going on could lose data (an overlay we cannot prove ours, one on another base, a
    shrink).
    """
    owner = owner_of(observed, spec, recorded)
    if adoption is not None:
        refuse_adoption(spec, observed, owner, adoption.busy)
    else:
        require_ours(owner, observed.domain, spec)
    refuse_data_disks(spec, disks, base)
    refuse_attached_root(spec, root)
    if observed.platform is not None:
        require_runnable(spec, observed.platform)
    live = observed.domain
    wanted = desired_domain(
        spec, identity, observed.platform, base, live.config if live is not None else None
    )
    require_nvram_ours(wanted.nvram_path, live, observed.nvram_present)
    actions: list[Action] = [Action.FETCH_BASE] if base.format is None else []
    if adoption is not None:
        actions.append(Action.WRITE_MARKER)  # first: a crash from here on leaves it ours
    if live is None:
        actions.append(Action.DEFINE)
    if spec.seed_iso_path is not None and not observed.seed_present:
        actions.append(Action.WRITE_SEED)
    actions += _overlay_actions(spec, observed, base, recorded)
    redefine = live is None or live.config.structural() != wanted.structural()
    redefine = redefine or password_changed(spec, recorded)
    if live is not None:
        if redefine:
            actions.append(Action.DEFINE)  # the definition carries the claim
        elif live.claim != spec.claim and adoption is None:
            actions.append(Action.WRITE_MARKER)
    hot, cycle = _reaching(spec, observed, wanted, recorded)
    restart = bool(cycle) and spec.restart_on_change
    if hot and not restart and spec.state is not RunState.STOPPED:
        # Before the redefine, which then keeps the slots the hot-plugged devices got.
        at = actions.index(Action.DEFINE) if Action.DEFINE in actions else len(actions)
        actions.insert(at, Action.APPLY_LIVE)
    else:
        hot = LiveChanges()
    if _autostart_differs(spec, observed):
        actions.append(Action.SET_AUTOSTART)
    actions += _power_actions(spec, observed.power, restart)
    pending = () if restart or Action.START in actions else cycle
    dropped = _dropped_nvram(live, wanted, observed.nvram_present)
    if dropped:
        actions.append(Action.REMOVE_FILES)
    return Plan(
        tuple(actions),
        wanted if redefine else None,
        domain_is_new=live is None,
        removals=dropped,
        live=hot,
        pending=pending,
    )


def pending_inputs(spec: VmSpec, observed: Observed, recorded: Recorded | None) -> tuple[str, ...]:
    """The inputs the running guest has not got yet and gets only at a power cycle: what its
    running definition lacks of the persistent one (a refresh tells it from the host)."""
    if observed.domain is None:
        return ()
    return _reaching(spec, observed, observed.domain.config, recorded)[1]


def _reaching(
    spec: VmSpec, observed: Observed, wanted: DomainConfig, recorded: Recorded | None
) -> tuple[LiveChanges, tuple[str, ...]]:
    """How the running guest (if any) gets to ``wanted``: what applies live, and the inputs
    only a power cycle brings (see :mod:`pulumi_vigo_vm.changes`).

    What was left pending before stays pending while the guest still differs in it, even
    where a live change could apply it (an unplug the guest did not complete). The CPU is
    told from the inputs (a running domain reports ``host-model`` expanded): a change of it
    stays pending while the guest runs on."""
    running = observed.running
    if running is None or observed.power is not PowerState.RUNNING:
        return LiveChanges(), ()
    found = classify(running, _kept_as_running(wanted, running))
    names = [n for f in found.power_cycle for n in _definition_inputs(spec, f)]
    if recorded is not None:
        have, want = boot_relevant(running), boot_relevant(wanted)
        differing = {
            name
            for f in dataclass_fields(DomainConfig)
            if getattr(have, f.name) != getattr(want, f.name)
            for name in _definition_inputs(spec, f.name)
        }
        names += [n for n in recorded.pending_changes if n in differing or n == "cpu_mode"]
        if recorded.spec.cpu != spec.cpu:
            names.append("cpu_mode")
        if password_changed(spec, recorded):
            names.append("graphics_password")
    return found.live, tuple(dict.fromkeys(names))


def _kept_as_running(wanted: DomainConfig, running: DomainConfig) -> DomainConfig:
    """``wanted`` with the devices it keeps as the domain's own taken as the running guest
    has them: the package changes nothing of those, whatever the running definition fills
    in (a display's listen address from qemu.conf, its port)."""
    kept = {
        name: getattr(running, name)
        for name in KEPT_UNLESS_GIVEN
        if getattr(wanted, name) is not None and getattr(wanted, name).kept
    }
    return replace(wanted, **kept) if kept else wanted


def definition_inputs(spec: VmSpec, fields: Sequence[str]) -> tuple[str, ...]:
    """The inputs the given fields of the domain definition come from."""
    return tuple(dict.fromkeys(n for f in fields for n in _definition_inputs(spec, f)))


def _autostart_differs(spec: VmSpec, observed: Observed) -> bool:
    """libvirt's autostart flag is not what ``spec`` asks (a new domain starts without it;
    unknown where the host was not asked)."""
    have = False if observed.domain is None else observed.autostart
    return have is not None and have != spec.autostarts


def _dropped_nvram(live: LiveDomain | None, wanted: DomainConfig, present: bool) -> tuple[str, ...]:
    """The NVRAM our domain references, when the new definition boots BIOS: removed once the
    redefine is done (libvirt leaves it behind), so a later ``efi`` starts fresh rather than
    meeting a file no domain references."""
    old = live.config.nvram_path if live is not None else None
    if old is None or not present or wanted.nvram_path is not None:
        return ()
    return (old,)


def plan_remove(
    spec: VmSpec,
    observed: Observed,
    recorded: Recorded | None,
    candidates: Candidates,
    facts: FileFacts,
) -> Plan:
    """The actions that make a VM absent: power off, undefine, remove the files proven ours.

    The power-off is per VM: a running guest whose disks all go with it (its overlay or
    copy, no data disk) is powered off at once, since nothing it could flush survives; one
    with a data disk or an attached root, which outlive it, gets an ACPI shutdown first
    (forced off after ``shutdown_timeout_s``), so those disks are left consistent.

    The base is never touched, nor any file only a name pattern points at; with no domain
    of ours and nothing recorded (``state="absent"`` for a VM that never existed), nothing
    is removed. A same-named domain that is not ours is refused.
    """
    require_ours(owner_of(observed, spec, recorded), observed.domain, spec)
    actions: list[Action] = []
    if observed.power is PowerState.RUNNING and (spec.data_disks or not spec.owns_root):
        actions.append(Action.SHUTDOWN)  # its disks outlive it: the guest flushes them first
    elif observed.power is not None and observed.power.is_active:
        actions.append(Action.DESTROY)  # every disk it writes goes with it: pull the plug
    if observed.domain is not None:
        actions.append(Action.UNDEFINE)
    removals = removable_files(spec, candidates, facts, recorded)
    if removals:
        actions.append(Action.REMOVE_FILES)
    return Plan(tuple(actions), removals=removals)


Decision = Literal["replace", "update"] | None
Rule = Callable[[str, VmSpec, VmSpec, ImageInfo | None, ResolvedBase | None], Decision]


def _base_rule(
    name: str, old: VmSpec, new: VmSpec, _overlay: ImageInfo | None, _b: ResolvedBase | None
) -> Decision:
    """Another base is a new VM (reported under the input that names the new base)."""
    return "replace" if old.base != new.base and name == new.base.input_name else None


def _seed_rule(
    name: str, old: VmSpec, new: VmSpec, _overlay: ImageInfo | None, _b: ResolvedBase | None
) -> Decision:
    """A new seed is a fresh overlay, so cloud-init runs again (the reference page); with
    ``on_seed_change="reseed"`` it is a new seed and instance-id on the same disks."""
    if old.seed_hash == new.seed_hash or getattr(old, name) == getattr(new, name):
        return None
    return "update" if new.on_seed_change is SeedChange.RESEED else "replace"


def _host_rule(
    _name: str, old: VmSpec, new: VmSpec, _overlay: ImageInfo | None, _b: ResolvedBase | None
) -> Decision:
    """Another host is a new VM there; with ``on_host_change="migrate"`` the same VM moved
    (see :mod:`.moving`)."""
    if old.uri == new.uri:
        return None
    return "update" if moves(old, new) else "replace"


def moves(old: VmSpec, new: VmSpec) -> bool:
    """``new`` moves the VM ``old`` describes to another host (an update, not a replace)."""
    return old.uri != new.uri and new.on_host_change is HostChange.MIGRATE


def _size_rule(
    _name: str, old: VmSpec, new: VmSpec, overlay: ImageInfo | None, base: ResolvedBase | None
) -> Decision:
    """Larger grows in place; smaller than the overlay (or the base) is a new VM."""
    wanted = new.disk_size_bytes
    if wanted is None and base is not None:
        wanted = base.virtual_size
    current = overlay.virtual_size if overlay is not None else old.disk_size_bytes
    if wanted is not None and current is not None:
        if wanted < current:
            return "replace"
        return "update" if wanted > current else None
    return "update" if old.disk_size_gib != new.disk_size_gib else None


def _maximum_rule(
    name: str, old: VmSpec, new: VmSpec, _overlay: ImageInfo | None, _b: ResolvedBase | None
) -> Decision:
    """A maximum omitted is the current value (state of the previous release holds none):
    only the value the domain boots with counts."""
    effective = {"max_vcpu": "vcpu_max", "max_memory_mib": "memory_max_mib"}[name]
    return "update" if getattr(old, effective) != getattr(new, effective) else None


def _adopt_rule(
    _name: str, _old: VmSpec, _new: VmSpec, _overlay: ImageInfo | None, _b: ResolvedBase | None
) -> Decision:
    """``adopt`` matters at create only: changing or dropping it later changes nothing."""
    return None


INPUT_RULES: dict[str, Rule] = {
    "base": _base_rule,
    "seed": _seed_rule,
    "host": _host_rule,
    "size": _size_rule,
    "maximum": _maximum_rule,
    "adopt": _adopt_rule,
}
"""The inputs whose change depends on other fields or the host (``Change.RULE`` in the
field table), by rule name."""


def _input_decisions(
    old: VmSpec, new: VmSpec, overlay: ImageInfo | None, base: ResolvedBase | None
) -> tuple[list[str], list[str]]:
    """(replaces, updates) from the inputs alone, as the field table says."""
    replaces: list[str] = []
    updates: list[str] = []
    for f in INPUTS:
        if f.change is Change.RULE:
            assert f.rule is not None
            decision = INPUT_RULES[f.rule](f.name, old, new, overlay, base)
        elif getattr(old, f.name) != getattr(new, f.name):
            decision = "replace" if f.change is Change.REPLACE else "update"
        else:
            decision = None
        if decision == "replace":
            replaces.append(f.name)
        elif decision == "update":
            updates.append(f.name)
    return replaces, updates


def _live_replaces(
    recorded: Recorded, new: VmSpec, observed: Observed, base: ResolvedBase
) -> list[str]:
    """Axis 2 on the host: the base resolves elsewhere, the overlay is gone or re-based."""
    if recorded.spec.base != new.base or new.state is RunState.ABSENT:
        return []  # already a replace from the inputs; or no overlay wanted at all
    # A copy is independent of its base file: only a change of the declared base (an input)
    # replaces it, never the file changing or going.
    resolved_elsewhere = new.root_backing and (
        (recorded.base_path is not None and base.path != recorded.base_path)
        or (base.format is not None and recorded.base_format not in (None, base.format))
        or (base.artifact_id is not None and recorded.artifact_id not in (None, base.artifact_id))
        or (base.stamp is not None and recorded.base_stamp not in (None, base.stamp))
    )
    overlay = observed.overlay
    was_built = recorded.spec.state is not RunState.ABSENT and new.owns_root
    backing = base.path if new.root_backing else None
    rebased = was_built and overlay is not None and overlay.backing_file != backing
    if resolved_elsewhere or rebased or (overlay is None and was_built):
        return [new.base.input_name]
    return []


Drift = tuple[tuple[str, ...], str]
"""The inputs whose live value differs, and what was seen."""


def _seed_inputs(spec: VmSpec) -> tuple[str, ...]:
    """The inputs the seed ISO carries, those given (its live value is the file)."""
    return tuple(
        f.name for f in INPUTS if f.rule == "seed" and getattr(spec, f.name) not in (None, "")
    )


_DEFINITION_INPUTS = {
    "name": ("vm_name",),
    "nvram_path": ("firmware",),
    # the tuning and devices an operator sets
    "root_tune": ("disk_cache", "disk_io", "disk_iops", "disk_bytes_per_s"),
    "graphics": ("graphics", "graphics_listen"),
} | {
    name: (name,)
    for name in (
        "memory_mib",
        "vcpu",
        "max_vcpu",
        "max_memory_mib",
        "domain_type",
        "data_disks",
        "arch",
        "machine",
        "firmware",
        "tpm",
        "cpu_mode",
        # Hardware and tuning (operations spec §4)
        "host_devices",
        "filesystems",
        "cpu_pinning",
        "numa",
        "hugepages",
        "iothreads",
        "rng",
        "watchdog",
        "boot_order",
    )
}
"""The input each field of the domain definition comes from, where it is one input alone."""


def _definition_inputs(spec: VmSpec, field_name: str) -> tuple[str, ...]:
    """The inputs a field of the domain definition comes from (see :func:`desired_domain`);
    none for what the package alone decides (the console log, the agent channel, discard)."""
    if field_name == "nics":
        shorthand = "network_bridge" if spec.network_bridge is not None else "network"
        return ("nics",) if spec.nics else (shorthand,)
    if field_name in ("overlay_path", "root_format"):
        return (spec.base.input_name,)
    if field_name == "seed_iso_path":
        return _seed_inputs(spec)
    return _DEFINITION_INPUTS.get(field_name, ())


def _definition_drift(spec: VmSpec, live: DomainConfig, wanted: DomainConfig) -> Drift | None:
    """The inputs whose value the live definition no longer holds, field by field."""
    have, want = live.structural(), wanted.structural()
    fields = [
        f.name
        for f in dataclass_fields(DomainConfig)
        if getattr(have, f.name) != getattr(want, f.name)
    ]
    if not fields:
        return None
    names = tuple(dict.fromkeys(n for f in fields for n in _definition_inputs(spec, f)))
    return names, f"live definition drifted ({', '.join(fields)})"


def _live_updates(
    recorded: Recorded, new: VmSpec, observed: Observed, base: ResolvedBase
) -> list[Drift]:
    """Axes 1, 3 and 4 on the host: definition, seed file and run state, each naming the
    inputs whose live value differs."""
    if new.state is RunState.ABSENT:
        ours = observed.domain is not None or recorded_overlay(
            recorded, observed.overlay, new.root_backing
        )
        return [(("state",), "state")] if ours else []
    drifts: list[Drift] = []
    live = observed.domain
    if live is None:
        drifts.append((("state",), "domain missing on the host"))
    elif owner_of(observed, new, recorded) is not DomainOwner.OURS:
        drifts.append((("vm_name",), "same-named domain not owned by us"))
    else:
        if live.claim != new.claim:
            drifts.append((("claim",), "ownership marker names another claim"))
        identity = keep_identity(new, live.config, recorded, Identity(live.config.uuid, ""))
        drift = _definition_drift(
            new, live.config, desired_domain(new, identity, observed.platform, base, live.config)
        )
        if drift is not None:
            drifts.append(drift)
        if _autostart_differs(new, observed):
            drifts.append((("autostart",), f"autostart flag is {observed.autostart}"))
    if new.seed_iso_path is not None and not observed.seed_present:
        drifts.append((_seed_inputs(new), "seed ISO missing"))
    power = observed.power
    if new.state is RunState.RUNNING and power is not PowerState.RUNNING:
        drifts.append((("state",), f"run state is {observed.observed_state}, want running"))
    if new.state is RunState.STOPPED and power is not None and power.is_active:
        drifts.append((("state",), f"run state is {observed.observed_state}, want stopped"))
    return drifts


def diff(
    recorded: Recorded,
    new: VmSpec,
    observed: Observed | None = None,
    base: ResolvedBase | None = None,
) -> DiffDecision:
    """The spec's diff table. ``observed``/``base`` are None when the host was unreachable."""
    overlay = observed.overlay if observed is not None else None
    replaces, updates = _input_decisions(recorded.spec, new, overlay, base)
    reasons = list(updates)
    if observed is not None and base is not None and not replaces:
        replaces += _live_replaces(recorded, new, observed, base)
        for names, reason in _live_updates(recorded, new, observed, base):
            updates += names
            reasons.append(reason)
    return DiffDecision(
        tuple(dict.fromkeys(replaces)),
        tuple(dict.fromkeys(reasons)),
        tuple(dict.fromkeys(updates)),
    )
