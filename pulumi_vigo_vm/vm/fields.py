"""Every field of a VigoVm, stated once: its inputs and outputs, with type, default, secrecy,
validator and what a change does.

The rest is derived from this table: the provider's validation and defaults
(:mod:`pulumi_vigo_vm.vm.spec`), which inputs replace and which update (:func:`axes.diff`),
which inputs force a replace while unknown in preview, the resource's output-only and secret
keys (:mod:`pulumi_vigo_vm.vm.resource`). ``VigoVmArgs`` and ``VigoVm`` spell the fields out for
type checkers and editors; ``tests/unit/test_fields.py`` fails when they, the provider's
outputs, the diff rules, the reference page's tables (docs/vm.md) or the attribute
docstrings disagree with this table; :mod:`.fielddocs` renders the last two from each
field's ``doc``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from . import devices, hardware, inputs, tuning
from .inputs import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    DEFAULT_WAIT_TIMEOUT_S,
    AddressSource,
    DiskMode,
    Firmware,
    HostChange,
    RunState,
    SeedChange,
    WaitFor,
)

if TYPE_CHECKING:
    from ..spec import ProviderDefaults

__all__ = [
    "INPUTS",
    "OUTPUTS",
    "TYPE_TOKEN",
    "Change",
    "InputField",
    "OutputField",
    "input_field",
]

"""The type of every VigoVm in state (``module="vigo", name="VigoVm"`` of a dynamic
resource); policies find VMs by it."""


class Change(StrEnum):
    """What a changed input does to the VM."""

    UPDATE = "update"  # converged in place
    REPLACE = "replace"  # a new VM, delete-before-replace
    RULE = "rule"  # depends on the other fields or the host: axes.INPUT_RULES[rule]


@dataclass(frozen=True)
class InputField:
    """One input: also an output of the same name (normalised)."""

    name: str
    annotation: str
    """The type users may pass, as ``VigoVmArgs`` declares it (without ``Input[...]``)."""
    validate: Callable[[Any], Any]
    change: Change
    rule: str | None = None
    default: Callable[[ProviderDefaults], Any] | None = None
    required: bool = False
    secret: bool = False
    set_by_resource: bool = False
    """Computed by VigoVm at declaration, never given by users."""
    doc: str = field(kw_only=True)
    """What the field means, in Markdown: a row of the reference page's table (docs/vm.md)
    and the attribute's docstring in ``VigoVmArgs``/``VigoVm``, both rendered from here by
    :mod:`.fielddocs`."""

    @property
    def replaces_when_unknown(self) -> bool:
        """While unknown in preview, a change of this input is assumed to replace the VM."""
        return self.change is Change.REPLACE or self.rule in ("base", "seed", "host")


@dataclass(frozen=True)
class OutputField:
    """A field the provider computes (inputs are outputs too: see :data:`INPUTS`)."""

    name: str
    annotation: str
    secret: bool = False
    doc: str = field(kw_only=True)
    """What the output means, in Markdown: a row of the reference page's table (docs/vm.md)
    and the attribute's docstring in ``VigoVmArgs``/``VigoVm``, both rendered from here by
    :mod:`.fielddocs`."""


def _rule(name: str) -> dict[str, Any]:
    return {"change": Change.RULE, "rule": name}


_INT = "int | str"

# --- the tuning and devices an operator sets (operations spec §4) ---
_HARDWARE_INPUTS: tuple[InputField, ...] = (
    InputField(
        "disk_cache",
        "str",
        hardware.cache,
        Change.UPDATE,
        doc=(
            "the root disk's cache mode (`<driver cache>`): `none`, `writethrough`, "
            "`writeback`, `directsync`, `unsafe`; omitted: libvirt's default"
        ),
    ),
    InputField(
        "disk_io",
        "str",
        hardware.io,
        Change.UPDATE,
        doc=(
            "the root disk's IO mode (`<driver io>`): `threads`, `native` (needs `disk_cache` "
            "`none` or `directsync`), `io_uring`; omitted: libvirt's default"
        ),
    ),
    InputField(
        "disk_iops",
        _INT,
        hardware.iops,
        Change.UPDATE,
        doc="the root disk's limit in IO operations per second (`<iotune><total_iops_sec>`)",
    ),
    InputField(
        "disk_bytes_per_s",
        _INT,
        hardware.bytes_per_s,
        Change.UPDATE,
        doc="the root disk's limit in bytes per second (`<iotune><total_bytes_sec>`)",
    ),
    InputField(
        "rng",
        "bool",
        inputs.flag,
        Change.UPDATE,
        default=lambda _: True,
        doc=(
            "`true` (default, as every VM had): a virtio RNG fed from the host's "
            "`/dev/urandom` (`/dev/hwrng` in the guest); `false` removes it"
        ),
    ),
    InputField(
        "watchdog",
        "dict[str, Any]",
        hardware.watchdog,
        Change.UPDATE,
        doc=(
            '`{"model": "i6300esb" (default) or "itco" (q35 only), "action": "reset" '
            '(default), "poweroff", "shutdown", "pause", "dump" or "none"}`; omitted: a '
            "watchdog the domain has is left as it is"
        ),
    ),
    InputField(
        "graphics",
        "str",
        hardware.graphics,
        Change.UPDATE,
        doc=(
            "`vnc` or `spice`: a display on a port libvirt picks (the output "
            "`graphics_port`); omitted: a display the domain has is left as it is"
        ),
    ),
    InputField(
        "graphics_listen",
        "str",
        hardware.graphics_listen,
        Change.UPDATE,
        doc=(
            "the host address the display listens on; default `127.0.0.1` (reach it through "
            "an SSH tunnel); needs `graphics`"
        ),
    ),
    InputField(
        "graphics_password",
        "str",
        hardware.graphics_password,
        Change.UPDATE,
        secret=True,
        doc=(
            "the display's password (VNC: at most 8 characters); secret in state, never "
            "logged nor shown in a diff; needs `graphics`"
        ),
    ),
    InputField(
        "boot_order",
        "list[str]",
        hardware.boot_order,
        Change.UPDATE,
        doc='devices to boot from, in order: `"hd"`, `"cdrom"`, `"network"`; default `["hd"]`',
    ),
)

INPUTS: tuple[InputField, ...] = (
    InputField(
        "vm_name",
        "str",
        inputs.vm_name,
        Change.REPLACE,
        required=True,
        doc=("required; domain name and idempotency key; `^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`"),
    ),
    InputField(
        "memory_mib",
        _INT,
        inputs.memory_mib,
        Change.UPDATE,
        required=True,
        doc="required; a positive whole number of MiB, at most 16 TiB",
    ),
    InputField(
        "vcpu",
        _INT,
        inputs.vcpu,
        Change.UPDATE,
        required=True,
        doc="required; a positive whole number, at most 4096",
    ),
    InputField(
        "disk_path",
        "str",
        inputs.disk_path,
        **_rule("base"),
        doc=(
            "absolute path of a qcow2/raw base, or `pool:volume`; exactly one of "
            "`disk_path`/`artifact`"
        ),
    ),
    InputField(
        "artifact",
        "str",
        inputs.artifact,
        **_rule("base"),
        doc=(
            "curator reference: `name:tag`, `name@version`, `puddle/name:tag`, "
            "`hexid/name@version` ([curator](curator.md))"
        ),
    ),
    InputField(
        "state",
        "str",
        inputs.state,
        Change.UPDATE,
        default=lambda _: RunState.RUNNING.value,
        doc="`running` (default), `stopped`, `defined`, `absent`",
    ),
    InputField(
        "disk_size_gib",
        _INT,
        inputs.disk_size_gib,
        **_rule("size"),
        doc=(
            "overlay size, at most 64 TiB; omitted: the base's size; smaller than the base: error"
        ),
    ),
    InputField(
        "network_bridge",
        "str",
        inputs.network_bridge,
        Change.UPDATE,
        doc="host bridge for the single virtio NIC; omitted: no NIC",
    ),
    InputField(
        "cloud_init_user_data",
        "str",
        inputs.cloud_init_user_data,
        **_rule("seed"),
        secret=True,
        doc="NoCloud user-data; kept secret in state, never logged",
    ),
    InputField(
        "uri",
        "str",
        inputs.uri,
        **_rule("host"),
        default=lambda d: d.uri,
        doc=(
            "libvirt URI; default config `vigo:uri`, else `qemu:///system` ([remote "
            "hosts](remote-hosts.md)); a change is a new VM, or a move with "
            '`on_host_change="migrate"`'
        ),
    ),
    InputField(
        "domain_type",
        "str",
        inputs.domain_type,
        Change.UPDATE,
        default=lambda d: d.domain_type,
        doc="`kvm` (default, config `vigo:domainType`) or `qemu` (software emulation)",
    ),
    InputField(
        "images_dir",
        "str",
        inputs.images_dir,
        Change.REPLACE,
        default=lambda d: d.images_dir,
        doc=("overlays and seeds; default config `vigo:imagesDir`, else `/var/lib/libvirt/images`"),
    ),
    InputField(
        "shutdown_timeout_s",
        _INT,
        inputs.shutdown_timeout_s,
        Change.UPDATE,
        default=lambda _: DEFAULT_SHUTDOWN_TIMEOUT_S,
        doc=(
            "graceful shutdown allowance in seconds before a forced power-off; "
            "default 120, at most 24 hours"
        ),
    ),
    InputField(
        "network",
        "str",
        inputs.network,
        Change.UPDATE,
        doc=(
            "a libvirt network for the NIC instead (`<interface type='network'>`); "
            "exclusive with `network_bridge`"
        ),
    ),
    InputField(
        "wait_for",
        "str",
        inputs.wait_for,
        Change.UPDATE,
        default=lambda _: WaitFor.NONE.value,
        doc=(
            "`none` (default), `ip` (an address is known), `ready` (cloud-init "
            'finished this boot); needs a NIC and `state="running"` '
            "([addresses](addresses.md))"
        ),
    ),
    InputField(
        "wait_timeout_s",
        _INT,
        inputs.wait_timeout_s,
        Change.UPDATE,
        default=lambda _: DEFAULT_WAIT_TIMEOUT_S,
        doc="how long `create`/`update` wait, in seconds; default 300, at most 24 hours",
    ),
    InputField(
        "address_source",
        "str",
        inputs.address_source,
        Change.UPDATE,
        default=lambda _: AddressSource.ANY.value,
        doc=(
            "`any` (default: lease, agent, ARP, console, in that order), `lease`, "
            "`agent`, `arp`, `console`"
        ),
    ),
    InputField(
        "claim",
        "str",
        inputs.claim,
        Change.UPDATE,
        set_by_resource=True,
        doc=(
            "set by `VigoVm` (the stack's state id and the resource's URN, see "
            "[ownership](ownership.md)); never given"
        ),
    ),
    InputField(
        "data_disks",
        "list[dict[str, Any]]",
        devices.data_disks,
        Change.UPDATE,
        doc=(
            'disks attached after the root, in order: a list of `{"path": ...}` (a '
            "`VigoDisk`'s `path`, or any pre-existing file or `pool:volume`) with "
            'optional `"format"` (`qcow2` default, `raw`; never probed), `"serial"` '
            '(default: the file\'s stem cut to 20 characters), `"bus"` (`virtio` '
            'default, `scsi`, `sata`), `"readonly"` (default false), `"cache"`, `"io"`, '
            '`"iops"`, `"bytes_per_s"` (as `disk_cache`… for the root); at most 24 '
            "([data disks](data-disks.md))"
        ),
    ),
    InputField(
        "nics",
        "list[dict[str, Any]]",
        devices.nics,
        Change.UPDATE,
        doc=(
            'several NICs: a list of `{"bridge": ...}` or `{"network": ...}` with '
            'optional `"mac"` (unicast; given, or generated once and kept) and '
            '`"model"` (`virtio` default, `e1000e`, `e1000`, `rtl8139`), `"vlan"` (1-4094; a '
            "tagged bridge NIC is an Open vSwitch port), "
            '`"bandwidth"` (`{"inbound": KiB/s, "outbound": KiB/s}`), or `{"type": "direct", '
            '"dev": host interface, "mode": "bridge"}` (macvtap; modes `bridge` default, '
            "`vepa`, `private`, `passthrough`); at most 16; "
            "exclusive with `network_bridge`/`network`, which stay as one-NIC "
            "shorthands; a new NIC's bridge, libvirt network or macvtap parent must exist "
            "on the host (looked up at preview) ([tuning and display](tuning-and-display.md))"
        ),
    ),
    InputField(
        "cloud_init_network_config",
        "str",
        inputs.cloud_init_network_config,
        **_rule("seed"),
        doc=(
            "NoCloud network-config (version 1 or 2 YAML), carried in the seed; "
            "parsed at preview: a YAML mapping with `version: 1` or `2` (at the top "
            "or under `network:`)"
        ),
    ),
    InputField(
        "cloud_init_vendor_data",
        "str",
        inputs.cloud_init_vendor_data,
        **_rule("seed"),
        secret=True,
        doc=(
            "NoCloud vendor-data; secret like user-data (it joins the package's own "
            "vendor-data as a second MIME part)"
        ),
    ),
    InputField(
        "cloud_init_meta_data",
        "dict[str, Any]",
        inputs.cloud_init_meta_data,
        **_rule("seed"),
        doc=(
            "a mapping of extra meta-data keys (JSON values; a whole number reaches "
            "the guest as one, `8080` not `8080.0`); `instance-id` and "
            "`local-hostname` are the package's and refused here"
        ),
    ),
    InputField(
        "on_seed_change",
        "str",
        inputs.on_seed_change,
        Change.UPDATE,
        default=lambda _: SeedChange.REPLACE.value,
        doc=(
            "`replace` (default: a seed change is a new VM with a fresh root) or "
            "`reseed` (a new seed and `instance-id` swapped in, restart if running: "
            "cloud-init runs again over the same disks)"
        ),
    ),
    InputField(
        "on_host_change",
        "str",
        inputs.on_host_change,
        Change.UPDATE,
        default=lambda _: HostChange.REPLACE.value,
        doc=(
            "`replace` (default: a `uri` change is a new VM on the other host) or `migrate` "
            "(the VM moves there: live when running, its files copied, the base already "
            "there) ([migration](migration.md))"
        ),
    ),
    InputField(
        "firmware",
        "str",
        inputs.firmware,
        Change.UPDATE,
        default=lambda _: Firmware.BIOS.value,
        doc=(
            "`bios` (default), `efi`, `efi-secure` (Secure Boot: OVMF secboot with "
            "Microsoft keys, SMM, q35) ([firmware](firmware.md))"
        ),
    ),
    InputField(
        "tpm",
        "bool",
        inputs.flag,
        Change.UPDATE,
        default=lambda _: False,
        doc="`true`: an emulated TPM 2.0 (swtpm); default `false`",
    ),
    # Its default depends on domain_type (an input): spec.check_inputs derives it.
    InputField(
        "cpu_mode",
        "str",
        inputs.cpu_mode,
        Change.UPDATE,
        doc=(
            "`host-passthrough` (default for `kvm`), `maximum` (default for `qemu`), "
            "`host-model`, or `custom:<model>`"
        ),
    ),
    InputField(
        "machine",
        "str",
        inputs.machine,
        Change.UPDATE,
        doc=("machine type; default `pc` for BIOS and `q35` for EFI on x86, `virt` on aarch64"),
    ),
    InputField(
        "arch",
        "str",
        inputs.arch,
        Change.UPDATE,
        doc=(
            "guest architecture (`x86_64`, `aarch64`, …); default the host's own; "
            'another needs `domain_type="qemu"`'
        ),
    ),
    # Omitted: the VM's vcpu / memory_mib (None in state: a maximum equal to the current).
    InputField(
        "max_vcpu",
        _INT,
        inputs.max_vcpu,
        **_rule("maximum"),
        doc=(
            "the vCPUs the guest boots able to take (≥ `vcpu`; default `vcpu`): `vcpu` then "
            "changes live up to it; a change of it needs a restart"
        ),
    ),
    InputField(
        "max_memory_mib",
        _INT,
        inputs.max_memory_mib,
        **_rule("maximum"),
        doc=(
            "the memory the guest boots able to take (≥ `memory_mib`; default `memory_mib`): "
            "`memory_mib` then changes live up to it (the virtio balloon); a change of it "
            "needs a restart"
        ),
    ),
    InputField(
        "restart_on_change",
        "bool",
        inputs.flag,
        Change.UPDATE,
        default=lambda _: True,
        doc=(
            "`true` (default): a change only a power cycle applies restarts a running guest; "
            "`false`: the definition changes, the guest runs on, `restart_pending` says so"
        ),
    ),
    # Its default depends on state (an input): spec.check_inputs derives it. Set with
    # virDomainSetAutostart, never by a redefine: an update changes it without a restart.
    InputField(
        "autostart",
        "bool",
        inputs.flag,
        Change.UPDATE,
        doc=(
            "libvirt starts the VM when its host boots (`virsh autostart`); default `true` "
            'for `state="running"`, `false` otherwise; `true` with `state="stopped"` is '
            "refused (the two contradict)"
        ),
    ),
    InputField(
        "disk_mode",
        "str",
        inputs.disk_mode,
        Change.REPLACE,
        default=lambda _: DiskMode.OVERLAY.value,
        doc=(
            "`overlay` (default: `<images_dir>/<vm_name>.qcow2` over the base), `copy` "
            "(`<images_dir>/<vm_name>.qcow2` a sparse, standalone qcow2 copied from the "
            "base, no backing file: the base may change or go afterwards; the VM's own "
            "file, removed with it) or `attach`: `disk_path` (a file, `pool:volume` or a "
            "`VigoDisk`'s path) is the root itself, used as it is, never written nor removed "
            "by the package; no `artifact`, no `disk_size_gib`; refused while another domain "
            "uses the file. A change is a replace (leaving `attach` never removes the disk)"
        ),
    ),
    # Matters at create only (operations spec §1): a change later changes nothing.
    InputField(
        "adopt",
        "str",
        inputs.adopt,
        **_rule("adopt"),
        doc=(
            "the UUID of an existing domain named `vm_name` that this package did not "
            "create (any case, braces allowed): `create` takes it over instead of defining "
            'one; needs `disk_mode="attach"`; matters at create only'
        ),
    ),
    # --- Hardware and tuning (operations spec §4): host devices, virtiofs, pinning, NUMA,
    # hugepages, I/O threads. Each is judged against the host at preview (vm/hostfit.py).
    InputField(
        "host_devices",
        "list[dict[str, Any]]",
        tuning.host_devices,
        Change.UPDATE,
        doc=(
            'host devices passed through: a list of `{"pci": "0000:3b:00.0"}` or '
            '`{"usb": "vendor:product"}` (`<hostdev managed="yes">`: libvirt takes the '
            "device from its host driver at start, gives it back at stop); each must "
            "exist on the host and be used by no other domain (looked up at preview); "
            "at most 32 ([tuning](tuning.md))"
        ),
    ),
    InputField(
        "filesystems",
        "list[dict[str, Any]]",
        tuning.filesystems,
        Change.UPDATE,
        doc=(
            'host directories shared over virtiofs: a list of `{"source": dir, "tag": '
            'tag}` with optional `"readonly"` (default false); the guest mounts them with '
            "`mount -t virtiofs <tag> <dir>`; brings shared memory backing (memfd); needs "
            "`virtiofsd` on the host (Debian package `virtiofsd`)"
        ),
    ),
    InputField(
        "cpu_pinning",
        "list[str]",
        tuning.cpu_pinning,
        Change.UPDATE,
        doc=(
            'host CPUs per vCPU (`<vcpupin>`): one set per vCPU, in order (`"0"`, `"2-3"`, '
            '`"0,4"`); as many as `vcpu`; the CPUs must exist on the host'
        ),
    ),
    InputField(
        "numa",
        "dict[str, Any]",
        tuning.numa,
        Change.UPDATE,
        doc=(
            'the guest memory\'s host NUMA policy (`<numatune>`): `{"mode": "strict" '
            '(default), "preferred" (one node) or "interleave", "nodeset": "0-1"}`; the '
            "nodes must exist on the host"
        ),
    ),
    InputField(
        "hugepages",
        "bool | int",
        tuning.hugepages,
        Change.UPDATE,
        doc=(
            "guest memory on huge pages: `true` (the host's default size) or a page size "
            "in KiB (`2048`, `1048576`); the host must have enough free pages of that "
            "size for `max_memory_mib` (checked at preview); default `false`"
        ),
    ),
    InputField(
        "iothreads",
        _INT,
        tuning.iothreads,
        Change.UPDATE,
        doc=(
            "how many I/O threads the domain has (`<iothreads>`), 1-64; a virtio data "
            'disk runs on one with `"iothread": n` (1-based, at most `iothreads`) in its '
            "`data_disks` entry"
        ),
    ),
    *_HARDWARE_INPUTS,
)

OUTPUTS: tuple[OutputField, ...] = (
    OutputField("uuid", "str", doc="the libvirt domain UUID; stable across redefines"),
    OutputField(
        "mac_address",
        "str",
        doc=(
            "the first NIC's MAC; stable across redefines, and kept while a VM has "
            "no NIC, for the first one added"
        ),
    ),
    OutputField("base_path", "str | None", doc="the resolved base file the overlay is backed by"),
    OutputField(
        "base_format",
        "str | None",
        doc="the base's format (`qcow2` or `raw`, told from its first bytes)",
    ),
    OutputField(
        "artifact_id", "str | None", doc="the curator artifact's id, for a VM on an `artifact`"
    ),
    OutputField(
        "base_stamp",
        "str | None",
        doc="the base's size, mtime and virtual size when the overlay was built",
    ),
    OutputField(
        "overlay_path",
        "str | None",
        doc=(
            "the VM's own root, `<images_dir>/<vm_name>.qcow2` (an overlay, or a copy); "
            'null with `disk_mode="attach"`'
        ),
    ),
    # Derived from the secret user-data and vendor-data (a short unsalted digest): secret too.
    OutputField(
        "seed_iso_path",
        "str | None",
        secret=True,
        doc=(
            "the NoCloud seed ISO on the host, or null without any cloud-init input "
            "(secret: its name carries the seed hash)"
        ),
    ),
    OutputField(
        "seed_hash",
        "str | None",
        secret=True,
        doc=(
            "the seed's content hash (8 hex digits, see "
            "[files](vm.md#files-on-the-hypervisor)), or null without any cloud-init "
            "input (secret: a short unsalted digest of user-data and vendor-data)"
        ),
    ),
    OutputField(
        "console_log_path", "str", doc="the serial console's log on the host, for the current boot"
    ),
    OutputField(
        "observed_state",
        "str",
        doc=("what the host reported after the last operation (`running`, `stopped`, `absent`, …)"),
    ),
    OutputField("ip_address", "str | None", doc="the first IPv4 address of the first NIC, or null"),
    OutputField(
        "ip_addresses",
        "list[str]",
        doc="every address the host knows for the VM, NIC by NIC, IPv4 first",
    ),
    OutputField(
        "mac_addresses", "list[str]", doc="one MAC per NIC, in order (`mac_address` is the first)"
    ),
    OutputField(
        "restart_pending",
        "bool",
        doc="the running guest is not on its definition yet (`restart_on_change=false`)",
    ),
    OutputField(
        "pending_changes",
        "list[str]",
        doc="the inputs the running guest gets at its next power cycle",
    ),
    # the display's port (operations spec §4)
    OutputField(
        "graphics_port",
        "int | None",
        doc=(
            "the port the display (`graphics`) listens on while the VM runs (libvirt picks "
            "it at each start); null when it does not run or has no display"
        ),
    ),
)

_BY_NAME = {f.name: f for f in INPUTS}


def input_field(name: str) -> InputField:
    """The input called ``name``."""
    return _BY_NAME[name]
