"""VigoVm: the resource a Pulumi program declares, and VigoVmArgs for those who prefer it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from ..common.typetokens import MODULE
from ..dynamic.claims import claim_for
from ..dynamic.parallel import widen_program_registrations
from ..dynamic.pickling import pristine_pickler
from ..provider import VmProvider
from .fields import INPUTS, OUTPUTS, TYPE_TOKEN

__all__ = ["VigoVm", "VigoVmArgs"]

_OUTPUT_ONLY = tuple(f.name for f in OUTPUTS)
_SECRET_INPUTS = [f.name for f in INPUTS if f.secret]
_SECRET_OUTPUTS = _SECRET_INPUTS + [f.name for f in OUTPUTS if f.secret]
"""Secret in state: user-data, vendor-data, and the seed's hash and name derived from them
(see fields.py)."""


@dataclass
class VigoVmArgs:
    """The inputs of a VigoVm. Integers may also be given as numeric strings ("4096")."""

    vm_name: Input[str]
    """Required; domain name and idempotency key; ``^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$``."""
    memory_mib: Input[int | str]
    """Required; a positive whole number of MiB, at most 16 TiB."""
    vcpu: Input[int | str]
    """Required; a positive whole number, at most 4096."""
    disk_path: Input[str] | None = None
    """Absolute path of a qcow2/raw base, or ``pool:volume``; exactly one of
    ``disk_path``/``artifact``."""
    artifact: Input[str] | None = None
    """Curator reference: ``name:tag``, ``name@version``, ``puddle/name:tag``,
    ``hexid/name@version`` (see docs/curator.md)."""
    state: Input[str] | None = None
    """``running`` (default), ``stopped``, ``defined``, ``absent``."""
    disk_size_gib: Input[int | str] | None = None
    """Overlay size, at most 64 TiB; omitted: the base's size; smaller than the base: error."""
    network_bridge: Input[str] | None = None
    """Host bridge for the single virtio NIC; omitted: no NIC."""
    cloud_init_user_data: Input[str] | None = None
    """NoCloud user-data; kept secret in state, never logged."""
    uri: Input[str] | None = None
    """Libvirt URI; default config ``vigo:uri``, else ``qemu:///system`` (see docs/remote-hosts.md);
    a change is a new VM, or a move with ``on_host_change="migrate"``."""
    domain_type: Input[str] | None = None
    """``kvm`` (default, config ``vigo:domainType``) or ``qemu`` (software emulation)."""
    images_dir: Input[str] | None = None
    """Overlays and seeds; default config ``vigo:imagesDir``, else ``/var/lib/libvirt/images``."""
    shutdown_timeout_s: Input[int | str] | None = None
    """Graceful shutdown allowance in seconds before a forced power-off; default 120, at most 24
    hours."""
    network: Input[str] | None = None
    """A libvirt network for the NIC instead (``<interface type='network'>``); exclusive with
    ``network_bridge``."""
    wait_for: Input[str] | None = None
    """``none`` (default), ``ip`` (an address is known), ``ready`` (cloud-init finished this boot);
    needs a NIC and ``state="running"`` (see docs/addresses.md)."""
    wait_timeout_s: Input[int | str] | None = None
    """How long ``create``/``update`` wait, in seconds; default 300, at most 24 hours."""
    address_source: Input[str] | None = None
    """``any`` (default: lease, agent, ARP, console, in that order), ``lease``, ``agent``, ``arp``,
    ``console``."""
    data_disks: Input[list[dict[str, Any]]] | None = None
    """Disks attached after the root, in order: a list of ``{"path": ...}`` (a ``VigoDisk``'s
    ``path``, or any pre-existing file or ``pool:volume``) with optional ``"format"`` (``qcow2``
    default, ``raw``; never probed), ``"serial"`` (default: the file's stem cut to 20 characters),
    ``"bus"`` (``virtio`` default, ``scsi``, ``sata``), ``"readonly"`` (default false), ``"cache"``,
    ``"io"``, ``"iops"``, ``"bytes_per_s"`` (as ``disk_cache``… for the root); at most 24 (see
    docs/data-disks.md)."""
    nics: Input[list[dict[str, Any]]] | None = None
    """Several NICs: a list of ``{"bridge": ...}`` or ``{"network": ...}`` with optional ``"mac"``
    (unicast; given, or generated once and kept) and ``"model"`` (``virtio`` default, ``e1000e``,
    ``e1000``, ``rtl8139``), ``"vlan"`` (1-4094; a tagged bridge NIC is an Open vSwitch port),
    ``"bandwidth"`` (``{"inbound": KiB/s, "outbound": KiB/s}``), or ``{"type": "direct", "dev": host
    interface, "mode": "bridge"}`` (macvtap; modes ``bridge`` default, ``vepa``, ``private``,
    ``passthrough``); at most 16; exclusive with ``network_bridge``/``network``, which stay as
    one-NIC shorthands; a new NIC's bridge, libvirt network or macvtap parent must exist on the host
    (looked up at preview) (see docs/tuning-and-display.md)."""
    cloud_init_network_config: Input[str] | None = None
    """NoCloud network-config (version 1 or 2 YAML), carried in the seed; parsed at preview: a YAML
    mapping with ``version: 1`` or ``2`` (at the top or under ``network:``)."""
    cloud_init_vendor_data: Input[str] | None = None
    """NoCloud vendor-data; secret like user-data (it joins the package's own vendor-data as a
    second MIME part)."""
    cloud_init_meta_data: Input[dict[str, Any]] | None = None
    """A mapping of extra meta-data keys (JSON values; a whole number reaches the guest as one,
    ``8080`` not ``8080.0``); ``instance-id`` and ``local-hostname`` are the package's and refused
    here."""
    on_seed_change: Input[str] | None = None
    """``replace`` (default: a seed change is a new VM with a fresh root) or ``reseed`` (a new seed
    and ``instance-id`` swapped in, restart if running: cloud-init runs again over the same
    disks)."""
    on_host_change: Input[str] | None = None
    """``replace`` (default: a ``uri`` change is a new VM on the other host) or ``migrate`` (the VM
    moves there: live when running, its files copied, the base already there) (see
    docs/migration.md)."""
    firmware: Input[str] | None = None
    """``bios`` (default), ``efi``, ``efi-secure`` (Secure Boot: OVMF secboot with Microsoft keys,
    SMM, q35) (see docs/firmware.md)."""
    tpm: Input[bool] | None = None
    """``true``: an emulated TPM 2.0 (swtpm); default ``false``."""
    cpu_mode: Input[str] | None = None
    """``host-passthrough`` (default for ``kvm``), ``maximum`` (default for ``qemu``),
    ``host-model``, or ``custom:<model>``."""
    machine: Input[str] | None = None
    """Machine type; default ``pc`` for BIOS and ``q35`` for EFI on x86, ``virt`` on aarch64."""
    arch: Input[str] | None = None
    """Guest architecture (``x86_64``, ``aarch64``, …); default the host's own; another needs
    ``domain_type="qemu"``."""
    max_vcpu: Input[int | str] | None = None
    """The vCPUs the guest boots able to take (≥ ``vcpu``; default ``vcpu``): ``vcpu`` then changes
    live up to it; a change of it needs a restart."""
    max_memory_mib: Input[int | str] | None = None
    """The memory the guest boots able to take (≥ ``memory_mib``; default ``memory_mib``):
    ``memory_mib`` then changes live up to it (the virtio balloon); a change of it needs a
    restart."""
    restart_on_change: Input[bool] | None = None
    """``true`` (default): a change only a power cycle applies restarts a running guest; ``false``:
    the definition changes, the guest runs on, ``restart_pending`` says so."""
    autostart: Input[bool] | None = None
    """Libvirt starts the VM when its host boots (``virsh autostart``); default ``true`` for
    ``state="running"``, ``false`` otherwise; ``true`` with ``state="stopped"`` is refused (the two
    contradict)."""
    disk_mode: Input[str] | None = None
    """``overlay`` (default: ``<images_dir>/<vm_name>.qcow2`` over the base), ``copy``
    (``<images_dir>/<vm_name>.qcow2`` a sparse, standalone qcow2 copied from the base, no backing
    file: the base may change or go afterwards; the VM's own file, removed with it) or ``attach``:
    ``disk_path`` (a file, ``pool:volume`` or a ``VigoDisk``'s path) is the root itself, used as it
    is, never written nor removed by the package; no ``artifact``, no ``disk_size_gib``; refused
    while another domain uses the file. A change is a replace (leaving ``attach`` never removes the
    disk)."""
    adopt: Input[str] | None = None
    """The UUID of an existing domain named ``vm_name`` that this package did not create (any case,
    braces allowed): ``create`` takes it over instead of defining one; needs ``disk_mode="attach"``;
    matters at create only."""
    host_devices: Input[list[dict[str, Any]]] | None = None
    """Host devices passed through: a list of ``{"pci": "0000:3b:00.0"}`` or ``{"usb":
    "vendor:product"}`` (``<hostdev managed="yes">``: libvirt takes the device from its host driver
    at start, gives it back at stop); each must exist on the host and be used by no other domain
    (looked up at preview); at most 32 (see docs/tuning.md)."""
    filesystems: Input[list[dict[str, Any]]] | None = None
    """Host directories shared over virtiofs: a list of ``{"source": dir, "tag": tag}`` with
    optional ``"readonly"`` (default false); the guest mounts them with ``mount -t virtiofs <tag>
    <dir>``; brings shared memory backing (memfd); needs ``virtiofsd`` on the host (Debian package
    ``virtiofsd``)."""
    cpu_pinning: Input[list[str]] | None = None
    """Host CPUs per vCPU (``<vcpupin>``): one set per vCPU, in order (``"0"``, ``"2-3"``,
    ``"0,4"``); as many as ``vcpu``; the CPUs must exist on the host."""
    numa: Input[dict[str, Any]] | None = None
    """The guest memory's host NUMA policy (``<numatune>``): ``{"mode": "strict" (default),
    "preferred" (one node) or "interleave", "nodeset": "0-1"}``; the nodes must exist on the
    host."""
    hugepages: Input[bool | int] | None = None
    """Guest memory on huge pages: ``true`` (the host's default size) or a page size in KiB
    (``2048``, ``1048576``); the host must have enough free pages of that size for
    ``max_memory_mib`` (checked at preview); default ``false``."""
    iothreads: Input[int | str] | None = None
    """How many I/O threads the domain has (``<iothreads>``), 1-64; a virtio data disk runs on one
    with ``"iothread": n`` (1-based, at most ``iothreads``) in its ``data_disks`` entry."""
    # the tuning and devices an operator sets
    disk_cache: Input[str] | None = None
    """The root disk's cache mode (``<driver cache>``): ``none``, ``writethrough``, ``writeback``,
    ``directsync``, ``unsafe``; omitted: libvirt's default."""
    disk_io: Input[str] | None = None
    """The root disk's IO mode (``<driver io>``): ``threads``, ``native`` (needs ``disk_cache``
    ``none`` or ``directsync``), ``io_uring``; omitted: libvirt's default."""
    disk_iops: Input[int | str] | None = None
    """The root disk's limit in IO operations per second (``<iotune><total_iops_sec>``)."""
    disk_bytes_per_s: Input[int | str] | None = None
    """The root disk's limit in bytes per second (``<iotune><total_bytes_sec>``)."""
    rng: Input[bool] | None = None
    """``true`` (default, as every VM had): a virtio RNG fed from the host's ``/dev/urandom``
    (``/dev/hwrng`` in the guest); ``false`` removes it."""
    watchdog: Input[dict[str, Any]] | None = None
    """``{"model": "i6300esb" (default) or "itco" (q35 only), "action": "reset" (default),
    "poweroff", "shutdown", "pause", "dump" or "none"}``; omitted: a watchdog the domain has is left
    as it is."""
    graphics: Input[str] | None = None
    """``vnc`` or ``spice``: a display on a port libvirt picks (the output ``graphics_port``);
    omitted: a display the domain has is left as it is."""
    graphics_listen: Input[str] | None = None
    """The host address the display listens on; default ``127.0.0.1`` (reach it through an SSH
    tunnel); needs ``graphics``."""
    graphics_password: Input[str] | None = None
    """The display's password (VNC: at most 8 characters); secret in state, never logged nor shown
    in a diff; needs ``graphics``."""
    boot_order: Input[list[str]] | None = None
    """Devices to boot from, in order: ``"hd"``, ``"cdrom"``, ``"network"``; default ``["hd"]``."""


class VigoVm(Resource, module=MODULE, name="VigoVm"):
    """A libvirt VM: domain, qcow2 overlay over a shared base, NoCloud seed, run state.

    Type token ``pulumi-python:dynamic/vigo:VigoVm``. ``cloud_init_user_data`` and
    ``cloud_init_vendor_data`` are kept secret in state. See docs/vm.md for the
    lifecycle and diff rules.
    """

    vm_name: Output[str]
    """Required; domain name and idempotency key; ``^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$``."""
    memory_mib: Output[int]
    """Required; a positive whole number of MiB, at most 16 TiB."""
    vcpu: Output[int]
    """Required; a positive whole number, at most 4096."""
    disk_path: Output[str | None]
    """Absolute path of a qcow2/raw base, or ``pool:volume``; exactly one of
    ``disk_path``/``artifact``."""
    artifact: Output[str | None]
    """Curator reference: ``name:tag``, ``name@version``, ``puddle/name:tag``,
    ``hexid/name@version`` (see docs/curator.md)."""
    state: Output[str]
    """``running`` (default), ``stopped``, ``defined``, ``absent``."""
    disk_size_gib: Output[int | None]
    """Overlay size, at most 64 TiB; omitted: the base's size; smaller than the base: error."""
    network_bridge: Output[str | None]
    """Host bridge for the single virtio NIC; omitted: no NIC."""
    cloud_init_user_data: Output[str | None]
    """NoCloud user-data; kept secret in state, never logged."""
    uri: Output[str]
    """Libvirt URI; default config ``vigo:uri``, else ``qemu:///system`` (see docs/remote-hosts.md);
    a change is a new VM, or a move with ``on_host_change="migrate"``."""
    domain_type: Output[str]
    """``kvm`` (default, config ``vigo:domainType``) or ``qemu`` (software emulation)."""
    images_dir: Output[str]
    """Overlays and seeds; default config ``vigo:imagesDir``, else ``/var/lib/libvirt/images``."""
    shutdown_timeout_s: Output[int]
    """Graceful shutdown allowance in seconds before a forced power-off; default 120, at most 24
    hours."""
    network: Output[str | None]
    """A libvirt network for the NIC instead (``<interface type='network'>``); exclusive with
    ``network_bridge``."""
    wait_for: Output[str]
    """``none`` (default), ``ip`` (an address is known), ``ready`` (cloud-init finished this boot);
    needs a NIC and ``state="running"`` (see docs/addresses.md)."""
    wait_timeout_s: Output[int]
    """How long ``create``/``update`` wait, in seconds; default 300, at most 24 hours."""
    address_source: Output[str]
    """``any`` (default: lease, agent, ARP, console, in that order), ``lease``, ``agent``, ``arp``,
    ``console``."""
    claim: Output[str]
    """Set by ``VigoVm`` (the stack's state id and the resource's URN, see ownership
    (docs/ownership.md)); never given."""
    data_disks: Output[list[dict[str, Any]]]
    """Disks attached after the root, in order: a list of ``{"path": ...}`` (a ``VigoDisk``'s
    ``path``, or any pre-existing file or ``pool:volume``) with optional ``"format"`` (``qcow2``
    default, ``raw``; never probed), ``"serial"`` (default: the file's stem cut to 20 characters),
    ``"bus"`` (``virtio`` default, ``scsi``, ``sata``), ``"readonly"`` (default false), ``"cache"``,
    ``"io"``, ``"iops"``, ``"bytes_per_s"`` (as ``disk_cache``… for the root); at most 24 (see
    docs/data-disks.md)."""
    nics: Output[list[dict[str, Any]]]
    """Several NICs: a list of ``{"bridge": ...}`` or ``{"network": ...}`` with optional ``"mac"``
    (unicast; given, or generated once and kept) and ``"model"`` (``virtio`` default, ``e1000e``,
    ``e1000``, ``rtl8139``), ``"vlan"`` (1-4094; a tagged bridge NIC is an Open vSwitch port),
    ``"bandwidth"`` (``{"inbound": KiB/s, "outbound": KiB/s}``), or ``{"type": "direct", "dev": host
    interface, "mode": "bridge"}`` (macvtap; modes ``bridge`` default, ``vepa``, ``private``,
    ``passthrough``); at most 16; exclusive with ``network_bridge``/``network``, which stay as
    one-NIC shorthands; a new NIC's bridge, libvirt network or macvtap parent must exist on the host
    (looked up at preview) (see docs/tuning-and-display.md)."""
    cloud_init_network_config: Output[str | None]
    """NoCloud network-config (version 1 or 2 YAML), carried in the seed; parsed at preview: a YAML
    mapping with ``version: 1`` or ``2`` (at the top or under ``network:``)."""
    cloud_init_vendor_data: Output[str | None]
    """NoCloud vendor-data; secret like user-data (it joins the package's own vendor-data as a
    second MIME part)."""
    cloud_init_meta_data: Output[dict[str, Any] | None]
    """A mapping of extra meta-data keys (JSON values; a whole number reaches the guest as one,
    ``8080`` not ``8080.0``); ``instance-id`` and ``local-hostname`` are the package's and refused
    here."""
    on_seed_change: Output[str]
    """``replace`` (default: a seed change is a new VM with a fresh root) or ``reseed`` (a new seed
    and ``instance-id`` swapped in, restart if running: cloud-init runs again over the same
    disks)."""
    on_host_change: Output[str]
    """``replace`` (default: a ``uri`` change is a new VM on the other host) or ``migrate`` (the VM
    moves there: live when running, its files copied, the base already there) (see
    docs/migration.md)."""
    firmware: Output[str]
    """``bios`` (default), ``efi``, ``efi-secure`` (Secure Boot: OVMF secboot with Microsoft keys,
    SMM, q35) (see docs/firmware.md)."""
    tpm: Output[bool]
    """``true``: an emulated TPM 2.0 (swtpm); default ``false``."""
    cpu_mode: Output[str]
    """``host-passthrough`` (default for ``kvm``), ``maximum`` (default for ``qemu``),
    ``host-model``, or ``custom:<model>``."""
    machine: Output[str | None]
    """Machine type; default ``pc`` for BIOS and ``q35`` for EFI on x86, ``virt`` on aarch64."""
    arch: Output[str | None]
    """Guest architecture (``x86_64``, ``aarch64``, …); default the host's own; another needs
    ``domain_type="qemu"``."""
    max_vcpu: Output[int | None]
    """The vCPUs the guest boots able to take (≥ ``vcpu``; default ``vcpu``): ``vcpu`` then changes
    live up to it; a change of it needs a restart."""
    max_memory_mib: Output[int | None]
    """The memory the guest boots able to take (≥ ``memory_mib``; default ``memory_mib``):
    ``memory_mib`` then changes live up to it (the virtio balloon); a change of it needs a
    restart."""
    restart_on_change: Output[bool]
    """``true`` (default): a change only a power cycle applies restarts a running guest; ``false``:
    the definition changes, the guest runs on, ``restart_pending`` says so."""
    autostart: Output[bool]
    """Libvirt starts the VM when its host boots (``virsh autostart``); default ``true`` for
    ``state="running"``, ``false`` otherwise; ``true`` with ``state="stopped"`` is refused (the two
    contradict)."""
    disk_mode: Output[str]
    """``overlay`` (default: ``<images_dir>/<vm_name>.qcow2`` over the base), ``copy``
    (``<images_dir>/<vm_name>.qcow2`` a sparse, standalone qcow2 copied from the base, no backing
    file: the base may change or go afterwards; the VM's own file, removed with it) or ``attach``:
    ``disk_path`` (a file, ``pool:volume`` or a ``VigoDisk``'s path) is the root itself, used as it
    is, never written nor removed by the package; no ``artifact``, no ``disk_size_gib``; refused
    while another domain uses the file. A change is a replace (leaving ``attach`` never removes the
    disk)."""
    adopt: Output[str | None]
    """The UUID of an existing domain named ``vm_name`` that this package did not create (any case,
    braces allowed): ``create`` takes it over instead of defining one; needs ``disk_mode="attach"``;
    matters at create only."""
    host_devices: Output[list[dict[str, Any]]]
    """Host devices passed through: a list of ``{"pci": "0000:3b:00.0"}`` or ``{"usb":
    "vendor:product"}`` (``<hostdev managed="yes">``: libvirt takes the device from its host driver
    at start, gives it back at stop); each must exist on the host and be used by no other domain
    (looked up at preview); at most 32 (see docs/tuning.md)."""
    filesystems: Output[list[dict[str, Any]]]
    """Host directories shared over virtiofs: a list of ``{"source": dir, "tag": tag}`` with
    optional ``"readonly"`` (default false); the guest mounts them with ``mount -t virtiofs <tag>
    <dir>``; brings shared memory backing (memfd); needs ``virtiofsd`` on the host (Debian package
    ``virtiofsd``)."""
    cpu_pinning: Output[list[str]]
    """Host CPUs per vCPU (``<vcpupin>``): one set per vCPU, in order (``"0"``, ``"2-3"``,
    ``"0,4"``); as many as ``vcpu``; the CPUs must exist on the host."""
    numa: Output[dict[str, Any] | None]
    """The guest memory's host NUMA policy (``<numatune>``): ``{"mode": "strict" (default),
    "preferred" (one node) or "interleave", "nodeset": "0-1"}``; the nodes must exist on the
    host."""
    hugepages: Output[bool | int]
    """Guest memory on huge pages: ``true`` (the host's default size) or a page size in KiB
    (``2048``, ``1048576``); the host must have enough free pages of that size for
    ``max_memory_mib`` (checked at preview); default ``false``."""
    iothreads: Output[int | None]
    """How many I/O threads the domain has (``<iothreads>``), 1-64; a virtio data disk runs on one
    with ``"iothread": n`` (1-based, at most ``iothreads``) in its ``data_disks`` entry."""
    # the tuning and devices an operator sets
    disk_cache: Output[str | None]
    """The root disk's cache mode (``<driver cache>``): ``none``, ``writethrough``, ``writeback``,
    ``directsync``, ``unsafe``; omitted: libvirt's default."""
    disk_io: Output[str | None]
    """The root disk's IO mode (``<driver io>``): ``threads``, ``native`` (needs ``disk_cache``
    ``none`` or ``directsync``), ``io_uring``; omitted: libvirt's default."""
    disk_iops: Output[int | None]
    """The root disk's limit in IO operations per second (``<iotune><total_iops_sec>``)."""
    disk_bytes_per_s: Output[int | None]
    """The root disk's limit in bytes per second (``<iotune><total_bytes_sec>``)."""
    rng: Output[bool]
    """``true`` (default, as every VM had): a virtio RNG fed from the host's ``/dev/urandom``
    (``/dev/hwrng`` in the guest); ``false`` removes it."""
    watchdog: Output[dict[str, Any] | None]
    """``{"model": "i6300esb" (default) or "itco" (q35 only), "action": "reset" (default),
    "poweroff", "shutdown", "pause", "dump" or "none"}``; omitted: a watchdog the domain has is left
    as it is."""
    graphics: Output[str | None]
    """``vnc`` or ``spice``: a display on a port libvirt picks (the output ``graphics_port``);
    omitted: a display the domain has is left as it is."""
    graphics_listen: Output[str | None]
    """The host address the display listens on; default ``127.0.0.1`` (reach it through an SSH
    tunnel); needs ``graphics``."""
    graphics_password: Output[str | None]
    """The display's password (VNC: at most 8 characters); secret in state, never logged nor shown
    in a diff; needs ``graphics``."""
    boot_order: Output[list[str] | None]
    """Devices to boot from, in order: ``"hd"``, ``"cdrom"``, ``"network"``; default ``["hd"]``."""
    uuid: Output[str]
    """The libvirt domain UUID; stable across redefines."""
    mac_address: Output[str]
    """The first NIC's MAC; stable across redefines, and kept while a VM has no NIC, for the first
    one added."""
    base_path: Output[str | None]
    """The resolved base file the overlay is backed by."""
    base_format: Output[str | None]
    """The base's format (``qcow2`` or ``raw``, told from its first bytes)."""
    artifact_id: Output[str | None]
    """The curator artifact's id, for a VM on an ``artifact``."""
    base_stamp: Output[str | None]
    """The base's size, mtime and virtual size when the overlay was built."""
    overlay_path: Output[str | None]
    """The VM's own root, ``<images_dir>/<vm_name>.qcow2`` (an overlay, or a copy); null with
    ``disk_mode="attach"``."""
    seed_iso_path: Output[str | None]
    """The NoCloud seed ISO on the host, or null without any cloud-init input (secret: its name
    carries the seed hash)."""
    seed_hash: Output[str | None]
    """The seed's content hash (8 hex digits, see files (docs/vm.md)), or null without any
    cloud-init input (secret: a short unsalted digest of user-data and vendor-data)."""
    console_log_path: Output[str]
    """The serial console's log on the host, for the current boot."""
    observed_state: Output[str]
    """What the host reported after the last operation (``running``, ``stopped``, ``absent``, …)."""
    ip_address: Output[str | None]
    """The first IPv4 address of the first NIC, or null."""
    ip_addresses: Output[list[str]]
    """Every address the host knows for the VM, NIC by NIC, IPv4 first."""
    mac_addresses: Output[list[str]]
    """One MAC per NIC, in order (``mac_address`` is the first)."""
    restart_pending: Output[bool]
    """The running guest is not on its definition yet (``restart_on_change=false``)."""
    pending_changes: Output[list[str]]
    """The inputs the running guest gets at its next power cycle."""
    graphics_port: Output[int | None]
    """The port the display (``graphics``) listens on while the VM runs (libvirt picks it at each
    start); null when it does not run or has no display."""

    def __init__(
        self,
        resource_name: str,
        args: VigoVmArgs | None = None,
        opts: ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a VM. Give either ``args`` or the same fields as keyword arguments.

        Every replace of a VigoVm is delete-before-replace: the old and the new VM share
        the domain name, and a create-before-delete would adopt the live domain and then
        have the engine delete it.
        """
        # Shallow on purpose: dataclasses.asdict deep-copies, which an Output refuses.
        props: dict[str, Any] = (
            {f.name: getattr(args, f.name) for f in fields(args)} if args is not None else {}
        )
        unknown = set(kwargs) - set(VigoVmArgs.__dataclass_fields__)
        if unknown:
            raise TypeError(f"VigoVm got unexpected arguments: {', '.join(sorted(unknown))}")
        if opts is not None and opts.delete_before_replace is False:
            raise ValueError(
                f"VigoVm {resource_name!r}: delete_before_replace=False is refused; the old and "
                "the new VM share one domain name, so a replace must delete first"
            )
        props.update(kwargs)
        for name in _SECRET_INPUTS:
            if props.get(name) is not None:
                props[name] = pulumi.Output.secret(props[name])
        props.update({name: None for name in _OUTPUT_ONLY})
        parent = opts.parent if opts is not None else None
        props["claim"] = claim_for(TYPE_TOKEN, resource_name, parent)
        widen_program_registrations()  # so many VMs can be created (and awaited) at once
        defaults = ResourceOptions(
            additional_secret_outputs=_SECRET_OUTPUTS, delete_before_replace=True
        )
        with pristine_pickler():  # pulumi#17803: else the 486th VM raises RecursionError
            super().__init__(
                VmProvider(), resource_name, props, ResourceOptions.merge(defaults, opts)
            )
