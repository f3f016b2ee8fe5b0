"""One VM from a pre-staged local base disk, running, with a cloud-init hello on its console.

Config (all optional; ``pulumi config set KEY VALUE``):

    basePath        the base disk (qcow2 or raw), never modified
                    default /var/lib/libvirt/images/debian-12-generic-amd64.qcow2
    vmName          libvirt domain name, default ex-minimal
    hostname        the guest hostname cloud-init sets, default vmName
    memoryMib       default 1024
    diskSizeGib     the VM's disk (overlay) size, default 4
    networkBridge   host bridge for the virtio NIC, default vigobr0; "" for no NIC
    network         a libvirt network for the NIC instead of the bridge (its DHCP gives the
                    VM the address the stack exports as ip_address)
    waitFor         none (default), ip or ready: what `up` waits for (needs a NIC)
    shutdownTimeoutS  graceful shutdown allowance before a forced power-off, default 120

Provider config: ``vigo:domainType`` (``kvm``, or ``qemu`` without KVM), ``vigo:uri``,
``vigo:imagesDir`` (where the overlay and seed ISO go, default /var/lib/libvirt/images).
"""

import pulumi

from pulumi_vigo_vm import VigoVm

MARKER = "VIGO-EXAMPLE-READY"
"""cloud-init writes ``VIGO-EXAMPLE-READY hostname=<hostname> uuid=<uuid>`` to the serial
console (the SMBIOS UUID, which is the libvirt domain's: it tells this boot from an earlier
VM's lines in an appended console log)."""
SMBIOS_UUID = "/sys/class/dmi/id/product_uuid"

config = pulumi.Config()
vm_name = config.get("vmName") or "ex-minimal"
hostname = config.get("hostname") or vm_name
network = config.get("network") or None
network_bridge = config.get("networkBridge")
if network_bridge is None:
    network_bridge = "" if network else "vigobr0"

user_data = f"""#cloud-config
hostname: {hostname}
runcmd:
  - [sh, -c, "echo {MARKER} hostname=$(hostname) uuid=$(cat {SMBIOS_UUID}) > /dev/ttyS0"]
"""

vm = VigoVm(
    "vm",
    vm_name=vm_name,
    memory_mib=config.get_int("memoryMib") or 1024,
    vcpu=1,
    disk_path=config.get("basePath") or "/var/lib/libvirt/images/debian-12-generic-amd64.qcow2",
    disk_size_gib=config.get_int("diskSizeGib") or 4,
    network_bridge=network_bridge or None,
    network=network,
    cloud_init_user_data=user_data,
    state="running",
    shutdown_timeout_s=config.get_int("shutdownTimeoutS"),
    wait_for=config.get("waitFor"),
)

pulumi.export("name", vm.vm_name)
pulumi.export("uuid", vm.uuid)
pulumi.export("observed_state", vm.observed_state)
pulumi.export("overlay_path", vm.overlay_path)
pulumi.export("console_log_path", vm.console_log_path)
pulumi.export("ip_address", vm.ip_address)
