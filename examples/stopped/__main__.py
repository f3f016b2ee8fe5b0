"""A VM whose run state comes from config: ``stopped`` (the default) or ``running``.

Stopping powers the guest off (ACPI shutdown, forced after ``shutdownTimeoutS``) but keeps
the domain definition, its UUID and MAC, and every byte of its overlay; ``running`` boots
the same disk again.

Config (all optional; ``pulumi config set KEY VALUE``):

    state           stopped (default), running, defined or absent
    basePath        the base disk (qcow2 or raw), never modified
                    default /var/lib/libvirt/images/debian-12-generic-amd64.qcow2
    vmName          libvirt domain name, default ex-stopped
    memoryMib       default 1024
    diskSizeGib     the VM's disk (overlay) size, default 4
    networkBridge   host bridge for the virtio NIC, default vigobr0; "" for no NIC
    shutdownTimeoutS  graceful shutdown allowance before a forced power-off, default 120

Provider config: ``vigo:domainType`` (``kvm``, or ``qemu`` without KVM), ``vigo:uri``,
``vigo:imagesDir``.
"""

import pulumi

from pulumi_vigo_vm import VigoVm

config = pulumi.Config()
network_bridge = config.get("networkBridge")
if network_bridge is None:
    network_bridge = "vigobr0"

vm = VigoVm(
    "vm",
    vm_name=config.get("vmName") or "ex-stopped",
    memory_mib=config.get_int("memoryMib") or 1024,
    vcpu=1,
    disk_path=config.get("basePath") or "/var/lib/libvirt/images/debian-12-generic-amd64.qcow2",
    disk_size_gib=config.get_int("diskSizeGib") or 4,
    network_bridge=network_bridge or None,
    state=config.get("state") or "stopped",
    shutdown_timeout_s=config.get_int("shutdownTimeoutS"),
)

pulumi.export("name", vm.vm_name)
pulumi.export("uuid", vm.uuid)
pulumi.export("mac_address", vm.mac_address)
pulumi.export("ip_address", vm.ip_address)
pulumi.export("observed_state", vm.observed_state)
pulumi.export("overlay_path", vm.overlay_path)
pulumi.export("console_log_path", vm.console_log_path)
