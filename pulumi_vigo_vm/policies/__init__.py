"""Policy rules for ``VigoVm``, ``VigoDisk`` and ``VigoSnapshot``: sizing limits, single
ownership of a libvirt domain, snapshots per VM.

The rules are plain functions over a resource's property mapping so they can be tested
without the policy engine; :func:`build_policies` wraps each rule in a pulumi-policy
``Policy`` and ``policy/__main__.py`` only assembles them into the ``PolicyPack``.

Why these rules exist:

* A typo such as ``memory_mib=409600`` would make libvirt try to reserve 400 GiB on the
  host (or ``size_gib=50000`` a data disk that fills the storage as its guest writes); the
  sizing limits stop such a plan at ``pulumi preview``, before anything is built.
* A display (``graphics``) listening beyond the host's loopback with no password hands
  the guest's console to anyone who reaches that address (``vigo-vm-open-display``, no
  config).
* Two ``VigoVm`` resources (in one stack) that name the same domain on the same libvirt
  URI would fight over it on every ``up``: each would converge it to its own definition.
  "Two configcrates can't manage the same domain."

Defaults (each overridable per stack through the pack config, see ``policy/README.md``):

=====================  ==================  ===================================
policy                 config property     default
=====================  ==================  ===================================
vigo-vm-max-memory     maxMemoryMib        65536 (64 GiB)
vigo-vm-max-vcpu       maxVcpu             32
vigo-vm-max-disk       maxDiskSizeGib      2048 (2 TiB)
vigo-vm-max-disk       defaultDiskSizeGib  20 (size assumed when absent)
vigo-disk-max-size     maxSizeGib          2048 (2 TiB; a VigoDisk's size_gib)
vigo-vm-max-nics       maxNics             8
vigo-vm-max-attached-  maxAttachedDiskGib  4096 (4 TiB: root plus attached VigoDisks)
disk                   defaultDiskSizeGib  20 (root size assumed when absent)
vigo-vm-unique-domain  defaultUri          stack config ``vigo:uri``, else
                                           ``qemu:///system``
vigo-snapshot-max-     maxSnapshotsPerVm   8 (VigoSnapshots of one VM)
per-vm
vigo-vm-max-host-      maxHostDevices      4 (host devices one VM passes through;
devices                                    0 forbids passthrough)
vigo-vm-max-hugepage-  maxHugepageMemory-  32768 (MiB of one VM's memory on huge
memory                 Mib                 pages)
=====================  ==================  ===================================

The SDK hands a policy only the config the engine sent (it does not fill schema defaults),
so every default is applied here in code as well as advertised in the schema.

Unknown values (outputs of other resources during preview) cannot be judged. The resource
policies let the SDK's ``UnknownValueError`` propagate, which the SDK turns into an
*advisory* "can't run policy ... during preview" diagnostic; the stack policy skips just
the VM whose ``uri`` or ``vm_name`` is unknown and still checks the others.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, Policy

from ..common.typetokens import VIGO_DISK as DISK_TYPE_TOKEN
from ..common.typetokens import VIGO_VM as TYPE_TOKEN
from ..common.uri import DEFAULT_URI
from .devices import (
    DEFAULT_MAX_ATTACHED_DISK_GIB,
    DEFAULT_MAX_NICS,
    MAX_ATTACHED_DISK_POLICY,
    MAX_NICS_POLICY,
    attached_disk_policy,
    attached_disk_violations,
    nic_violation,
    nics_policy,
)
from .graphics import OPEN_DISPLAY_POLICY, open_display_policy, open_display_violation
from .sizes import (
    DEFAULT_DISK_SIZE_GIB,
    DEFAULT_MAX_DATA_DISK_SIZE_GIB,
    DEFAULT_MAX_DISK_SIZE_GIB,
    DEFAULT_MAX_MEMORY_MIB,
    DEFAULT_MAX_VCPU,
    MAX_DATA_DISK_POLICY,
    MAX_DISK_POLICY,
    MAX_MEMORY_POLICY,
    MAX_VCPU_POLICY,
    SIZE_LIMITS,
    SizeLimit,
    coerce_positive_int,
    data_disk_violation,
    disk_violation,
    memory_violation,
    size_policy,
    size_violation,
    vcpu_violation,
)
from .snapshots import (
    DEFAULT_MAX_SNAPSHOTS_PER_VM,
    MAX_SNAPSHOTS_POLICY,
    snapshot_count_violations,
    snapshots_policy,
)
from .tuning import (
    DEFAULT_MAX_HOST_DEVICES,
    DEFAULT_MAX_HUGEPAGE_MEMORY_MIB,
    MAX_HOST_DEVICES_POLICY,
    MAX_HUGEPAGE_MEMORY_POLICY,
    host_devices_policy,
    host_devices_violation,
    hugepage_memory_policy,
    hugepage_memory_violation,
)
from .unique import (
    UNIQUE_DOMAIN_POLICY,
    DomainClaim,
    domain_key,
    duplicate_domain_violations,
    normalize_uri,
    unique_domain_policy,
    validate_unique_domain,
)

__all__ = [
    "DEFAULT_DISK_SIZE_GIB",
    "DEFAULT_MAX_ATTACHED_DISK_GIB",
    "DEFAULT_MAX_DATA_DISK_SIZE_GIB",
    "DEFAULT_MAX_DISK_SIZE_GIB",
    "DEFAULT_MAX_HOST_DEVICES",
    "DEFAULT_MAX_HUGEPAGE_MEMORY_MIB",
    "DEFAULT_MAX_MEMORY_MIB",
    "DEFAULT_MAX_NICS",
    "DEFAULT_MAX_SNAPSHOTS_PER_VM",
    "DEFAULT_MAX_VCPU",
    "DEFAULT_URI",
    "MAX_ATTACHED_DISK_POLICY",
    "MAX_DATA_DISK_POLICY",
    "MAX_DISK_POLICY",
    "MAX_HOST_DEVICES_POLICY",
    "MAX_HUGEPAGE_MEMORY_POLICY",
    "MAX_MEMORY_POLICY",
    "MAX_NICS_POLICY",
    "MAX_SNAPSHOTS_POLICY",
    "MAX_VCPU_POLICY",
    "OPEN_DISPLAY_POLICY",
    "PACK_NAME",
    "SIZE_LIMITS",
    "UNIQUE_DOMAIN_POLICY",
    "VIGO_DISK_TYPE",
    "VIGO_VM_TYPE",
    "DomainClaim",
    "SizeLimit",
    "attached_disk_violations",
    "build_policies",
    "coerce_positive_int",
    "data_disk_violation",
    "disk_violation",
    "domain_key",
    "duplicate_domain_violations",
    "host_devices_violation",
    "hugepage_memory_violation",
    "memory_violation",
    "nic_violation",
    "normalize_uri",
    "open_display_violation",
    "size_violation",
    "snapshot_count_violations",
    "validate_unique_domain",
    "vcpu_violation",
]

VIGO_VM_TYPE: Final = TYPE_TOKEN
VIGO_DISK_TYPE: Final = DISK_TYPE_TOKEN
PACK_NAME: Final = "vigo-vm"


def build_policies(enforcement_level: EnforcementLevel | None = None) -> list[Policy]:
    """Every VigoVm, VigoDisk and VigoSnapshot policy, ready for ``PolicyPack``.

    ``enforcement_level`` overrides each policy's own level (the pack's default applies
    when None); per-stack config can still change it, e.g. to ``advisory``.
    """
    return [
        *(size_policy(limit, enforcement_level) for limit in SIZE_LIMITS),
        nics_policy(enforcement_level),
        open_display_policy(enforcement_level),
        attached_disk_policy(enforcement_level),
        unique_domain_policy(enforcement_level),
        snapshots_policy(enforcement_level),
        host_devices_policy(enforcement_level),
        hugepage_memory_policy(enforcement_level),
    ]
