"""The reference page's minimal example: a base image downloaded and verified by a
VigoBaseImage, and the VM "edge-relay" built on it, running, with a cloud-init hello on its
serial console.

Config (all optional; ``pulumi config set KEY VALUE``):

    baseSource      the image's URL (https://, http:// or file://; .xz/.gz/.bz2/.zst are
                    decompressed on the way), default a dated Ubuntu 22.04 cloud image
    baseSha256      the sha256 of the file as published (its line in the release's
                    SHA256SUMS); default the digest of the default baseSource
    basePath        where the image goes on the hypervisor,
                    default /var/lib/libvirt/images/ubuntu-22.04-base.img
    baseOwner, baseGroup, baseMode   default libvirt-qemu, kvm, 0640 (Debian/Ubuntu's qemu user)
    vmName          libvirt domain name, default edge-relay
    hostname        the guest hostname cloud-init sets, default vmName
    memoryMib       default 1024
    diskSizeGib     the VM's disk (overlay) size, default 10
    networkBridge   host bridge for the virtio NIC, default br0; "" for no NIC
    network         a libvirt network for the NIC instead of the bridge (its DHCP gives the
                    VM the address the stack exports as ip_address)
    waitFor         none (default), ip or ready: what `up` waits for (needs a NIC)
    shutdownTimeoutS  graceful shutdown allowance before a forced power-off, default 120

Provider config: ``vigo:domainType`` (``kvm``, or ``qemu`` without KVM), ``vigo:uri``,
``vigo:imagesDir`` (where the overlay and seed ISO go, default /var/lib/libvirt/images),
``vigo:downloadIdleTimeoutS`` (default 60).
"""

import pulumi

from pulumi_vigo_vm import VigoBaseImage, VigoVm

UBUNTU_RELEASE = "https://cloud-images.ubuntu.com/releases/22.04/release-20240207"
DEFAULT_SOURCE = f"{UBUNTU_RELEASE}/ubuntu-22.04-server-cloudimg-amd64.img"
DEFAULT_SHA256 = "7eb9f1480956af75359130cd41ba24419d6fd88d3af990ea9abe97c2f9459fda"
"""The digest of DEFAULT_SOURCE as published in that release's SHA256SUMS. A dated release,
not ``current/``: its bytes never change, so the digest stays right."""
MARKER = "VIGO-EXAMPLE-READY"
"""cloud-init writes ``VIGO-EXAMPLE-READY hostname=<hostname> uuid=<uuid>`` to the serial
console (the SMBIOS UUID, which is the libvirt domain's: it tells this boot from an earlier
VM's lines in an appended console log)."""
SMBIOS_UUID = "/sys/class/dmi/id/product_uuid"

config = pulumi.Config()
vm_name = config.get("vmName") or "edge-relay"
hostname = config.get("hostname") or vm_name
network = config.get("network") or None
network_bridge = config.get("networkBridge")
if network_bridge is None:
    network_bridge = "" if network else "br0"

user_data = f"""#cloud-config
hostname: {hostname}
runcmd:
  - [sh, -c, "echo {MARKER} hostname=$(hostname) uuid=$(cat {SMBIOS_UUID}) > /dev/ttyS0"]
"""

base = VigoBaseImage(
    "ubuntu-base",
    source=config.get("baseSource") or DEFAULT_SOURCE,
    sha256=config.get("baseSha256") or DEFAULT_SHA256,
    path=config.get("basePath") or "/var/lib/libvirt/images/ubuntu-22.04-base.img",
    owner=config.get("baseOwner") or "libvirt-qemu",
    group=config.get("baseGroup") or "kvm",
    mode=config.get("baseMode") or "0640",
)

vm = VigoVm(
    "edge-relay",
    vm_name=vm_name,
    state="running",
    memory_mib=config.get_int("memoryMib") or 1024,
    vcpu=1,
    disk_path=base.path,
    disk_size_gib=config.get_int("diskSizeGib") or 10,
    network_bridge=network_bridge or None,
    network=network,
    cloud_init_user_data=user_data,
    shutdown_timeout_s=config.get_int("shutdownTimeoutS"),
    wait_for=config.get("waitFor"),
    # depends_on as the reference page writes it; base.path already orders the two. The
    # alias keeps a stack of the previous example (resource "vm") without a replace.
    opts=pulumi.ResourceOptions(depends_on=[base], aliases=[pulumi.Alias(name="vm")]),
)

pulumi.export("name", vm.vm_name)
pulumi.export("uuid", vm.uuid)
pulumi.export("observed_state", vm.observed_state)
pulumi.export("overlay_path", vm.overlay_path)
pulumi.export("console_log_path", vm.console_log_path)
pulumi.export("ip_address", vm.ip_address)
pulumi.export("base_path", base.path)
pulumi.export("base_format", base.format)
