"""VmSpec: the validated, normalised desired state of one VM, and every input error.

The engine hands the provider loosely typed property bags: numbers arrive as floats in
every method (even after ``check`` returned ints), integers may be numeric strings, and
during preview any value may be unknown. This module turns such a bag into a
:class:`VmSpec` or into one :class:`~pulumi_vigo_vm.errors.InputFault` per bad input, so
``pulumi preview`` reports all of them at once, before any host is touched. Which inputs
exist, their defaults and validators come from :mod:`pulumi_vigo_vm.vm.fields`. Pure: no I/O.

The stack-config defaults (:class:`~pulumi_vigo_vm.spec.ProviderDefaults`) live apart, in
:mod:`pulumi_vigo_vm.spec`, shared by every resource of the package.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from dataclasses import fields as dataclass_fields
from enum import Enum
from typing import Any

from ..common.arches import X86_ARCHES
from ..common.unknown import contains_unknown
from ..errors import InputError, InputFault
from ..spec import DEFAULT_DOMAIN_TYPE, DEFAULT_IMAGES_DIR, ProviderDefaults
from . import filenames
from .cloudinit import SeedContent
from .devices import DataDisk, Nic
from .domain_xml import DiskTune
from .fields import INPUTS, InputField
from .hardware import MAX_VNC_PASSWORD, GraphicsType, Watchdog, WatchdogModel, tuning_conflict
from .inputs import (
    CLAIM_REASON,
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_URI,
    DEFAULT_WAIT_TIMEOUT_S,
    AddressSource,
    BaseSource,
    DiskMode,
    Firmware,
    HostChange,
    RunState,
    SeedChange,
    WaitFor,
    default_autostart,
    default_cpu_mode,
)
from .machines import machine_family
from .tuning import Filesystem, HostDevice, Numa

__all__ = [
    "DEFAULT_DOMAIN_TYPE",
    "DEFAULT_IMAGES_DIR",
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_URI",
    "BaseSource",
    "HostChange",
    "RunState",
    "SeedChange",
    "VmSpec",
    "check_inputs",
    "parse_spec",
    "same_inputs",
]


@dataclass(frozen=True)
class VmSpec:
    """One VM as the user declared it, validated and with defaults applied."""

    vm_name: str
    memory_mib: int
    vcpu: int
    base: BaseSource
    state: RunState = RunState.RUNNING
    disk_size_gib: int | None = None
    network_bridge: str | None = None
    cloud_init_user_data: str | None = field(default=None, repr=False)
    uri: str = DEFAULT_URI
    domain_type: str = DEFAULT_DOMAIN_TYPE
    images_dir: str = DEFAULT_IMAGES_DIR
    shutdown_timeout_s: int = DEFAULT_SHUTDOWN_TIMEOUT_S
    network: str | None = None
    wait_for: WaitFor = WaitFor.NONE
    wait_timeout_s: int = DEFAULT_WAIT_TIMEOUT_S
    address_source: AddressSource = AddressSource.ANY
    claim: str | None = None
    """The owner named in the domain's marker: the resource's URN, computed by VigoVm.
    None only in state written by the previous release."""
    data_disks: tuple[DataDisk, ...] = ()
    nics: tuple[Nic, ...] = ()
    """The NICs as given in ``nics`` (see :attr:`all_nics` for the shorthands)."""
    cloud_init_network_config: str | None = None
    cloud_init_vendor_data: str | None = field(default=None, repr=False)
    cloud_init_meta_data: Mapping[str, Any] | None = None
    on_seed_change: SeedChange = SeedChange.REPLACE
    on_host_change: HostChange = HostChange.REPLACE
    firmware: Firmware = Firmware.BIOS
    tpm: bool = False
    cpu_mode: str | None = None
    """None only where no input bag was checked (see :attr:`cpu`)."""
    machine: str | None = None
    arch: str | None = None
    """None: the host's own architecture (told by the host at plan time)."""
    max_vcpu: int | None = None
    """None: ``vcpu`` (and so in every VM of the previous release): see :attr:`vcpu_max`."""
    max_memory_mib: int | None = None
    """None: ``memory_mib``: see :attr:`memory_max_mib`."""
    restart_on_change: bool = True

    @property
    def vcpu_max(self) -> int:
        """The vCPUs the domain boots able to take (``<vcpu>``; ``vcpu`` is its current)."""
        return self.max_vcpu or self.vcpu

    @property
    def memory_max_mib(self) -> int:
        """The memory the domain boots with (``<memory>``; the balloon gives ``memory_mib``)."""
        return self.max_memory_mib or self.memory_mib

    autostart: bool | None = None
    """None only where no input bag was checked (see :attr:`autostarts`)."""
    disk_mode: DiskMode = DiskMode.OVERLAY
    adopt: str | None = None
    """The UUID of the unmarked domain this VM took over at its create (kept after)."""
    # --- Hardware and tuning (operations spec §4); omitted in every VM of the previous
    # release, so its domain reads back the same.
    host_devices: tuple[HostDevice, ...] = ()
    filesystems: tuple[Filesystem, ...] = ()
    cpu_pinning: tuple[str, ...] = ()
    numa: Numa | None = None
    hugepages: bool | int = False
    """False: none; True: the host's default size; an int: the page size in KiB."""
    iothreads: int | None = None
    # --- the tuning and devices an operator sets (operations spec §4) ---
    disk_cache: str | None = None
    disk_io: str | None = None
    disk_iops: int | None = None
    disk_bytes_per_s: int | None = None
    rng: bool = True
    watchdog: Watchdog | None = None
    """None: the domain's own watchdog (if any) is left as it is."""
    graphics: str | None = None
    """None: the domain's own display (if any) is left as it is."""
    graphics_listen: str | None = None
    graphics_password: str | None = field(default=None, repr=False)
    boot_order: tuple[str, ...] | None = None
    """None: ``hd`` alone, as the previous release booted every VM."""

    @property
    def root_tune(self) -> DiskTune:
        return DiskTune(self.disk_cache, self.disk_io, self.disk_iops, self.disk_bytes_per_s)

    @property
    def owns_root(self) -> bool:
        """The root disk is the VM's own file (an overlay or a copy), not one attached as
        it is."""
        return self.disk_mode is not DiskMode.ATTACH

    @property
    def root_backing(self) -> bool:
        """The VM's own root names the base as its backing file (an overlay; a copy names
        none): what proves the file is what this mode makes."""
        return self.disk_mode is DiskMode.OVERLAY

    @property
    def root_path(self) -> str:
        """The root disk the domain boots from: the overlay, or ``disk_path`` itself (a
        file or ``pool:volume``) with ``disk_mode="attach"``."""
        return self.overlay_path if self.owns_root else self.base.value

    @property
    def autostarts(self) -> bool:
        """Whether libvirt starts the VM when its host boots: the input, else whether the
        VM is to run (``state="running"``)."""
        if self.autostart is not None:
            return self.autostart
        return default_autostart(self.state.value)

    @property
    def cpu(self) -> str:
        """The CPU mode the domain gets: the input, else the domain type's default."""
        return self.cpu_mode or default_cpu_mode(self.domain_type)

    @property
    def nvram_path(self) -> str:
        """The VM's UEFI variables (:func:`.filenames.nvram_path`)."""
        return filenames.nvram_path(self.images_dir, self.vm_name)

    @property
    def overlay_path(self) -> str:
        """The VM's own writable disk (:func:`.filenames.overlay_path`)."""
        return filenames.overlay_path(self.images_dir, self.vm_name)

    @property
    def seed_content(self) -> SeedContent:
        return SeedContent(
            self.cloud_init_user_data,
            self.cloud_init_vendor_data,
            self.cloud_init_network_config,
            self.cloud_init_meta_data,
        )

    @property
    def seed_hash(self) -> str | None:
        """The seed content's hash (``sha256(user_data)[:8]`` for user-data alone, as the
        previous release had it), or None without any cloud-init input."""
        return self.seed_content.hash

    @property
    def seed_iso_prefix(self) -> str:
        """The file-name prefix every seed ISO of this VM shares, whatever its hash."""
        return filenames.seed_iso_prefix(self.vm_name)

    @property
    def seed_iso_path(self) -> str | None:
        """``<images_dir>/<vm_name>-seed-<hash>.iso``, or None without user-data."""
        if self.seed_hash is None:
            return None
        return filenames.seed_iso_path(self.images_dir, self.vm_name, self.seed_hash)

    @property
    def all_nics(self) -> tuple[Nic, ...]:
        """Every NIC: ``nics``, or the one NIC ``network_bridge``/``network`` stand for."""
        if self.nics:
            return self.nics
        if self.network_bridge is not None:
            return (Nic("bridge", self.network_bridge),)
        if self.network is not None:
            return (Nic("network", self.network),)
        return ()

    @property
    def has_nic(self) -> bool:
        return bool(self.all_nics)

    @property
    def disk_size_bytes(self) -> int | None:
        """The overlay's requested virtual size, or None for the base image's size."""
        return None if self.disk_size_gib is None else self.disk_size_gib * 1024**3

    def to_inputs(self) -> dict[str, Any]:
        """The normalised inputs, as recorded in state and returned in outputs."""
        return {
            "vm_name": self.vm_name,
            "memory_mib": self.memory_mib,
            "vcpu": self.vcpu,
            "disk_path": self.base.value if self.base.kind != "artifact" else None,
            "artifact": self.base.value if self.base.kind == "artifact" else None,
            "state": self.state.value,
            "disk_size_gib": self.disk_size_gib,
            "network_bridge": self.network_bridge,
            "cloud_init_user_data": self.cloud_init_user_data,
            "uri": self.uri,
            "domain_type": self.domain_type,
            "images_dir": self.images_dir,
            "shutdown_timeout_s": self.shutdown_timeout_s,
            "network": self.network,
            "wait_for": self.wait_for.value,
            "wait_timeout_s": self.wait_timeout_s,
            "address_source": self.address_source.value,
            "claim": self.claim,
            "data_disks": [disk.to_input() for disk in self.data_disks],
            "nics": [nic.to_input() for nic in self.nics],
            "cloud_init_network_config": self.cloud_init_network_config,
            "cloud_init_vendor_data": self.cloud_init_vendor_data,
            "cloud_init_meta_data": (
                dict(self.cloud_init_meta_data) if self.cloud_init_meta_data else None
            ),
            "on_seed_change": self.on_seed_change.value,
            "on_host_change": self.on_host_change.value,
            "firmware": self.firmware.value,
            "tpm": self.tpm,
            "cpu_mode": self.cpu,
            "machine": self.machine,
            "arch": self.arch,
            "max_vcpu": self.max_vcpu,
            "max_memory_mib": self.max_memory_mib,
            "restart_on_change": self.restart_on_change,
            "autostart": self.autostarts,
            "disk_mode": self.disk_mode.value,
            "adopt": self.adopt,
            "host_devices": [device.to_input() for device in self.host_devices],
            "filesystems": [share.to_input() for share in self.filesystems],
            "cpu_pinning": list(self.cpu_pinning),
            "numa": self.numa.to_input() if self.numa is not None else None,
            "hugepages": self.hugepages,
            "iothreads": self.iothreads,
            "disk_cache": self.disk_cache,
            "disk_io": self.disk_io,
            "disk_iops": self.disk_iops,
            "disk_bytes_per_s": self.disk_bytes_per_s,
            "rng": self.rng,
            "watchdog": self.watchdog.to_input() if self.watchdog is not None else None,
            "graphics": self.graphics,
            "graphics_listen": self.graphics_listen,
            "graphics_password": self.graphics_password,
            "boot_order": list(self.boot_order) if self.boot_order is not None else None,
        }


def _present(value: Any) -> bool:
    return value is not None and value != ""


def check_inputs(
    props: Mapping[str, Any], defaults: ProviderDefaults, *, require_claim: bool = True
) -> tuple[dict[str, Any], list[InputFault]]:
    """Validate ``props`` leniently: unknown (preview) values pass through unjudged.

    Returns the normalised inputs (defaults applied) and one fault per bad input. New
    inputs must carry a ``claim``; recorded outputs of the previous release have none
    (``require_claim=False`` when parsing those).
    """
    given = {k: v for k, v in props.items() if _present(v)}
    values = {
        **{f.name: f.default(defaults) for f in INPUTS if f.default is not None},
        **given,
    }
    faults: list[InputFault] = []
    normalised: dict[str, Any] = {}
    for f in INPUTS:
        if f.required and f.name not in values:
            faults.append(InputFault(f.name, "is required"))
    if require_claim and "claim" not in values:
        faults.append(InputFault("claim", CLAIM_REASON))
    for f in INPUTS:
        name = f.name
        if name not in values:
            continue
        value = values[name]
        if contains_unknown(value):
            normalised[name] = value
            continue
        try:
            checked = f.validate(value)
        except ValueError as exc:
            faults.append(InputFault(name, str(exc)))
            continue
        normalised[name] = _plain(checked)
    has_disk, has_artifact = "disk_path" in values, "artifact" in values
    if has_disk and has_artifact and not any(f.property == "artifact" for f in faults):
        faults.append(
            InputFault("artifact", "give exactly one of disk_path and artifact, not both")
        )
    elif not has_disk and not has_artifact:
        faults.append(
            InputFault("disk_path", "a base disk is required: set disk_path (or artifact)")
        )
    faults += (
        _overlay_conflicts(normalised)
        + _nic_and_wait_conflicts(normalised)
        + _data_disk_conflicts(normalised)
    )
    faults += _platform_conflicts(normalised) + _maximum_conflicts(normalised)
    faults += _autostart_conflicts(normalised)
    faults += _root_conflicts(normalised)
    faults += _tuning_conflicts(normalised)
    faults += _hardware_conflicts(normalised)
    domain_type = normalised.get("domain_type")
    if "cpu_mode" not in normalised and isinstance(domain_type, str):
        normalised["cpu_mode"] = default_cpu_mode(domain_type)
    state = normalised.get("state")
    if "autostart" not in normalised and isinstance(state, str):
        normalised["autostart"] = default_autostart(state)
    if normalised.get("graphics") is not None and "graphics_listen" not in normalised:
        normalised["graphics_listen"] = DEFAULT_GRAPHICS_LISTEN
    passthrough = {k: v for k, v in props.items() if k not in values}
    return {**passthrough, **normalised}, faults


def _plain(checked: Any) -> Any:
    """A validator's typed value as the plain data a property bag holds."""
    if isinstance(checked, Enum):
        return checked.value
    if isinstance(checked, BaseSource):
        return checked.value
    if isinstance(checked, tuple):
        return [item if isinstance(item, str) else item.to_input() for item in checked]
    if isinstance(checked, (Numa, Watchdog)):
        return checked.to_input()
    return checked


def _overlay_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """A base at the VM's own overlay path would be deleted with the VM: refuse it."""
    base, name, images = (normalised.get(k) for k in ("disk_path", "vm_name", "images_dir"))
    if not all(isinstance(v, str) for v in (base, name, images)):
        return []
    if base != filenames.overlay_path(str(images), str(name)):
        return []
    return [
        InputFault(
            "disk_path",
            f"{base} is this VM's own overlay path (<images_dir>/<vm_name>.qcow2); keep bases "
            "out of that name: move the base, or change vm_name or images_dir",
        )
    ]


def _nic_and_wait_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """One NIC shorthand at a time; a wait needs a NIC on a guest that runs."""
    faults = []
    has_bridge, has_network = (normalised.get(k) is not None for k in ("network_bridge", "network"))
    has_list = bool(normalised.get("nics"))
    if has_bridge and has_network:
        faults.append(
            InputFault("network", "give either network_bridge or network for the NIC, not both")
        )
    if has_list and (has_bridge or has_network):
        shorthand = "network_bridge" if has_bridge else "network"
        faults.append(
            InputFault(
                "nics",
                f"give either nics or {shorthand} (a one-NIC shorthand), not both: move it into "
                f"nics as {{{shorthand.replace('network_', '')!r}: ...}} (the MAC is kept)",
            )
        )
    wait = normalised.get("wait_for")
    if isinstance(wait, str) and wait != WaitFor.NONE.value:
        if not (has_bridge or has_network or has_list):
            faults.append(
                InputFault("wait_for", f"{wait!r} needs a NIC: set nics, network or network_bridge")
            )
        state = normalised.get("state")
        if isinstance(state, str) and state != RunState.RUNNING.value:
            faults.append(
                InputFault(
                    "wait_for",
                    f"{wait!r} waits for a running guest, but state is {state!r}; "
                    "use wait_for='none' or state='running'",
                )
            )
    return faults


def _data_disk_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """A data disk may not be one of this VM's own files: its base, overlay or a seed."""
    disks, name, images = (normalised.get(k) for k in ("data_disks", "vm_name", "images_dir"))
    if not isinstance(disks, list) or contains_unknown(disks):
        return []
    own = {
        normalised.get("disk_path"): "the VM's base (disk_path)",
        filenames.overlay_path(str(images), str(name)): "the VM's own overlay",
    }
    faults = []
    for index, disk in enumerate(disks):
        path = disk["path"]
        what = own.get(path)
        directory, file_name = posixpath.split(path)
        if (
            what is None
            and directory == images
            and file_name.startswith(filenames.seed_iso_prefix(str(name)))
        ):
            what = "one of the VM's seed ISOs"
        if what is not None:
            faults.append(
                InputFault(
                    "data_disks",
                    f"[{index}].path {path} is {what}; a data disk must be a disk of its own "
                    "(a VigoDisk, or another volume)",
                )
            )
    return faults


def _maximum_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """A maximum below its current value: the domain could not boot with it."""
    faults = []
    for maximum, current in (("max_vcpu", "vcpu"), ("max_memory_mib", "memory_mib")):
        high, now = normalised.get(maximum), normalised.get(current)
        if isinstance(high, int) and isinstance(now, int) and high < now:
            faults.append(
                InputFault(
                    maximum,
                    f"{high} is below {current}={now}: raise {maximum} to at least {now} "
                    f"(or omit it: it defaults to {current})",
                )
            )
    return faults


def _root_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """What an attached root cannot have, and what an adoption needs (operations spec §1-2)."""
    faults = []
    mode = normalised.get("disk_mode")
    if normalised.get("adopt") is not None and mode == DiskMode.OVERLAY.value:
        faults.append(
            InputFault(
                "disk_mode",
                "adopt takes over a domain with the root disk it has, never an overlay built "
                "from a base: set disk_mode='attach' and disk_path to the domain's root disk "
                "(the first disk virsh domblklist <vm_name> lists)",
            )
        )
    if mode != DiskMode.ATTACH.value:
        return faults
    if normalised.get("artifact") is not None:
        faults.append(
            InputFault(
                "artifact",
                "disk_mode='attach' boots from disk_path itself: give the root disk's path "
                "(a file, pool:volume or a VigoDisk's path), not an artifact",
            )
        )
    if normalised.get("disk_size_gib") is not None:
        faults.append(
            InputFault(
                "disk_size_gib",
                "is refused with disk_mode='attach': the package never writes an attached "
                "root; grow it where it is managed (a VigoDisk's size_gib, or qemu-img resize "
                "while the VM is off)",
            )
        )
    return faults


def _tuning_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """Pinning for another number of vCPUs, a disk on an I/O thread the domain lacks."""
    faults = []
    pinning, vcpu = normalised.get("cpu_pinning"), normalised.get("vcpu")
    if isinstance(pinning, list) and pinning and isinstance(vcpu, int) and len(pinning) != vcpu:
        faults.append(
            InputFault(
                "cpu_pinning",
                f"holds {len(pinning)} CPU sets but vcpu is {vcpu}: give one host CPU set per "
                f"vCPU ({vcpu} entries), or omit cpu_pinning",
            )
        )
    disks, threads = normalised.get("data_disks"), normalised.get("iothreads")
    if isinstance(disks, list) and not contains_unknown(disks) and not contains_unknown(threads):
        for index, disk in enumerate(disks):
            wanted = disk.get("iothread")
            if wanted is None:
                continue
            if not isinstance(threads, int) or wanted > threads:
                have = threads if isinstance(threads, int) else "not set"
                faults.append(
                    InputFault(
                        "data_disks",
                        f"[{index}].iothread {wanted} is beyond the domain's I/O threads "
                        f"(iothreads is {have}): set iothreads to at least {wanted}",
                    )
                )
    return faults


def _autostart_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """A VM to be kept off that the host would start at its next boot: the two inputs
    contradict each other (the next ``up`` after a host reboot would shut it down)."""
    if normalised.get("autostart") is True and normalised.get("state") == RunState.STOPPED.value:
        return [
            InputFault(
                "autostart",
                "true starts the VM whenever its host boots, but state is 'stopped': drop "
                "autostart, or use state='running' (or 'defined', which leaves the run state "
                "to the host)",
            )
        ]
    return []


def _platform_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """Combinations no host can run, told before any host is asked."""
    faults = []
    cpu, domain_type = normalised.get("cpu_mode"), normalised.get("domain_type")
    if cpu == "host-passthrough" and domain_type == "qemu":
        faults.append(
            InputFault(
                "cpu_mode",
                "host-passthrough needs domain_type='kvm' (software emulation has no host CPU "
                "to pass through); use maximum or host-model",
            )
        )
    if normalised.get("firmware") != Firmware.EFI_SECURE.value:
        return faults
    machine, arch = normalised.get("machine"), normalised.get("arch")
    if isinstance(machine, str) and machine_family(machine) != "q35":
        faults.append(
            InputFault(
                "machine",
                f"firmware='efi-secure' needs the q35 machine (SMM), not {machine!r}: "
                "omit machine or give q35",
            )
        )
    if isinstance(arch, str) and arch not in X86_ARCHES:
        faults.append(
            InputFault(
                "firmware",
                f"Secure Boot exists only for x86 guests, not {arch}: use firmware='efi'",
            )
        )
    return faults


# --- the tuning and devices an operator sets (operations spec §4) ---

DEFAULT_GRAPHICS_LISTEN = "127.0.0.1"
"""Where a display listens unless ``graphics_listen`` says otherwise: this host alone."""


def _hardware_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """Display settings without a display, a VNC password VNC would cut, the root's IO mode
    without its cache, and the ICH9 watchdog on a machine without that chipset. Never quotes
    the password."""
    faults = []
    graphics = normalised.get("graphics")
    for name in ("graphics_listen", "graphics_password"):
        if normalised.get(name) is not None and graphics is None:
            faults.append(
                InputFault(name, "needs graphics ('vnc' or 'spice'): set it, or drop " + name)
            )
    password = normalised.get("graphics_password")
    vnc = graphics == GraphicsType.VNC.value
    if vnc and isinstance(password, str) and len(password) > MAX_VNC_PASSWORD:
        faults.append(
            InputFault(
                "graphics_password",
                f"holds {len(password)} characters; VNC uses at most {MAX_VNC_PASSWORD} "
                "(its challenge ignores the rest): shorten it, or use graphics='spice'",
            )
        )
    cache, io = normalised.get("disk_cache"), normalised.get("disk_io")
    if isinstance(io, str) and not contains_unknown(cache):
        conflict = tuning_conflict(DiskTune(cache=cache, io=io))
        if conflict is not None:
            faults.append(InputFault("disk_io", conflict.replace("cache=", "disk_cache=")))
    watchdog = normalised.get("watchdog")
    if isinstance(watchdog, Mapping) and watchdog.get("model") == WatchdogModel.ITCO.value:
        reason = _itco_refusal(normalised)
        if reason is not None:
            faults.append(InputFault("watchdog", reason))
    return faults


def _itco_refusal(normalised: Mapping[str, Any]) -> str | None:
    """Why the ICH9 (q35) watchdog cannot be on this VM, where its machine is known: given,
    or the default (``pc`` for BIOS on x86)."""
    machine, arch = normalised.get("machine"), normalised.get("arch")
    fix = "use model 'i6300esb' (any machine), or machine='q35'"
    if isinstance(arch, str) and arch not in X86_ARCHES:
        return f"model 'itco' is the x86 q35 chipset's watchdog, not {arch}'s: use 'i6300esb'"
    if isinstance(machine, str):
        if machine_family(machine) != "q35":
            return f"model 'itco' exists only on the q35 machine, not {machine!r}: {fix}"
        return None
    if "machine" not in normalised and normalised.get("firmware") == Firmware.BIOS.value:
        return f"model 'itco' exists only on the q35 machine; BIOS VMs default to 'pc': {fix}"
    return None


def same_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether :func:`parse_spec` reads the same inputs from ``a`` and ``b`` (it reads only
    the present values of :data:`INPUTS`), so one parse serves both: a no-op diff's recorded
    outputs and new inputs. Equal means equal types too (``1 == 1.0 == True`` in Python,
    not to a validator). Where no default stands in for an omitted input, the value the
    outputs record for it left out counts as omitted: ``[]`` for ``nics`` and ``data_disks``,
    the VmSpec's own constant default (``hugepages``: ``False``); both parse to the omitted
    input (tests/unit/test_spec.py holds every such field to that)."""
    return all(_strictly_equal(_given(f, a), _given(f, b)) for f in INPUTS)


_OMITTED = object()
_SPEC_DEFAULTS = {
    f.name: f.default for f in dataclass_fields(VmSpec) if f.default not in (None, MISSING)
}
"""The constant each VmSpec field takes when its input is left out (None: derived later)."""


def _given(f: InputField, props: Mapping[str, Any]) -> Any:
    value = props.get(f.name)
    if not _present(value):
        return None
    if f.default is None and (
        value == [] or _strictly_equal(value, _SPEC_DEFAULTS.get(f.name, _OMITTED))
    ):
        return None
    return value


def _strictly_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_strictly_equal, a, b))
    return bool(a == b)


def parse_spec(props: Mapping[str, Any], defaults: ProviderDefaults) -> VmSpec:
    """The VmSpec for ``props``. Raises InputError listing every bad input."""
    normalised, faults = check_inputs(props, defaults, require_claim=False)
    unknown = [k for k, v in normalised.items() if contains_unknown(v)]
    faults += [InputFault(k, "is not known yet") for k in unknown]
    if faults:
        raise InputError(faults)
    # Each validator is idempotent on its own output: run again, it gives the typed value.
    typed = {
        f.name: f.validate(normalised[f.name]) for f in INPUTS if _present(normalised.get(f.name))
    }  # "" is an omitted input here too, as check_inputs reads it
    base: BaseSource = typed.pop("artifact", None) or typed.pop("disk_path")
    typed.pop("disk_path", None)
    return VmSpec(base=base, **typed)
