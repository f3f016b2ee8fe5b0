"""A database VM whose data lives on a disk of its own.

The root disk is the VM's overlay over a shared base; the database's files go to a
``VigoDisk`` attached as ``/dev/disk/by-id/virtio-pgdata``. A user-data edit re-runs
cloud-init over the same disks (``on_seed_change="reseed"``); a base change replaces the VM
with a fresh root, and the data disk is attached again with every byte as it was. Pulumi's
own ``protect`` keeps ``pulumi destroy`` from removing the data by accident (set
``protectData`` to ``false`` to allow it).

Config (all optional; ``pulumi config set KEY VALUE``):

    basePath        the base disk (qcow2 or raw), never modified
                    default /var/lib/libvirt/images/debian-12-generic-amd64.qcow2
    vmName          libvirt domain name, default pg01
    memoryMib       default 2048
    diskSizeGib     the root (overlay) size, default 10
    dataSizeGib     the data disk's size, default 50 (it only grows: a shrink is refused)
    networkBridge   host bridge for the NIC, default vigobr0
    address         a static address for the NIC from network-config, e.g. 198.18.7.10/24;
                    default: DHCP
    protectData     true (default) or false
    state           running (default), stopped, defined

Provider config: ``vigo:domainType`` (``kvm``, or ``qemu`` without KVM), ``vigo:uri``,
``vigo:imagesDir``.
"""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk, VigoVm

config = pulumi.Config()
name = config.get("vmName") or "pg01"
address = config.get("address")
mac = "52:54:00:00:00:01" if address else None  # network-config matches the NIC by it

data = VigoDisk(
    "data",
    name=f"{name}-data",
    size_gib=config.get_int("dataSizeGib") or 50,
    opts=pulumi.ResourceOptions(protect=config.get_bool("protectData") is not False),
)

user_data = "#cloud-config\n" + json.dumps(
    {
        "fs_setup": [{"device": "/dev/disk/by-id/virtio-pgdata", "filesystem": "ext4"}],
        "mounts": [["/dev/disk/by-id/virtio-pgdata", "/var/lib/postgresql"]],
    }
)
network_config = None
if address:
    ethernets = {"backend": {"match": {"macaddress": mac}, "addresses": [address]}}
    network_config = json.dumps({"version": 2, "ethernets": ethernets})

vm = VigoVm(
    "vm",
    vm_name=name,
    memory_mib=config.get_int("memoryMib") or 2048,
    vcpu=2,
    disk_path=config.get("basePath") or "/var/lib/libvirt/images/debian-12-generic-amd64.qcow2",
    disk_size_gib=config.get_int("diskSizeGib") or 10,
    data_disks=[{"path": data.path, "serial": "pgdata"}],  # an Output: the disk comes first
    nics=[{"bridge": config.get("networkBridge") or "vigobr0", "mac": mac}],
    cloud_init_user_data=user_data,
    cloud_init_network_config=network_config,
    on_seed_change="reseed",
    state=config.get("state") or "running",
    shutdown_timeout_s=config.get_int("shutdownTimeoutS"),
)

pulumi.export("name", vm.vm_name)
pulumi.export("uuid", vm.uuid)
pulumi.export("ip_address", vm.ip_address)
pulumi.export("data_disk", data.path)
pulumi.export("data_disk_bytes", data.virtual_size_bytes)
pulumi.export("overlay_path", vm.overlay_path)
