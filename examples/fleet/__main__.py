"""A fleet: ``count`` VMs backed by one curator artifact, fetched once per hypervisor.

Config (``pulumi config set KEY VALUE``; numbers are given as strings, as they come from
``pulumi config``, and VigoVm accepts numeric strings):

    artifact        required: the curator reference, e.g. ``debian-12:stable``,
                    ``debian-12@12.7``, ``images/debian-12:stable`` or a pinned
                    ``<hex-artifact-id>/debian-12@12.7``
    count           how many VMs, default "3"
    memory_mib      per VM, default "1024"
    vcpu            per VM, default "1"
    disk_size_gib   per VM overlay size, default: the artifact's size
    name_prefix     VMs are <name_prefix>-<n>, default "fleet"
    state           running (default), stopped, defined
    network_bridge  host bridge for each VM's NIC, default none
    network         a libvirt network for each VM's NIC instead, default none
    data_disk_gib   give each VM a data disk of its own (a VigoDisk of this size,
                    /dev/disk/by-id/virtio-data in the guest), default none
    wait_for        none (default), ip or ready: let `up` return once each VM has an
                    address or has finished cloud-init (needs a NIC)
    ssh_authorized_key  put in the default user's authorized_keys, default none
    shutdown_timeout_s  how long a guest gets to shut down (ACPI) before it is forced off,
                    when it stops or its VM is deleted while a data disk outlives it;
                    default: VigoVm's

Provider config: ``vigo:curator`` (registry host[:port] or OCI layout directory),
``vigo:puddle`` (for references without one), ``vigo:artifactsDir``, ``vigo:uri``,
``vigo:domainType`` (``kvm``, or ``qemu`` without KVM), ``vigo:imagesDir``.
"""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk, VigoVm

config = pulumi.Config()
artifact = config.require("artifact")
count = int(config.get("count") or "3")
memory_mib = config.get("memory_mib") or "1024"
vcpu = config.get("vcpu") or "1"
disk_size_gib = config.get("disk_size_gib") or None
prefix = config.get("name_prefix") or "fleet"
state = config.get("state") or "running"
bridge = config.get("network_bridge") or None
network = config.get("network") or None
data_disk_gib = config.get("data_disk_gib") or None
wait_for = config.get("wait_for") or None
ssh_key = config.get("ssh_authorized_key")
shutdown_timeout_s = config.get("shutdown_timeout_s") or None

if count < 1:
    raise ValueError(f"count must be at least 1, got {count}")


def user_data(hostname: str, index: int) -> str:
    """Each VM's own #cloud-config: its hostname and its place in the fleet."""
    doc: dict[str, object] = {
        "hostname": hostname,
        "write_files": [
            {
                "path": "/etc/vigo-fleet.json",
                "permissions": "0644",
                "content": json.dumps({"fleet": prefix, "index": index, "size": count}) + "\n",
            }
        ],
    }
    if ssh_key:
        doc["ssh_authorized_keys"] = [ssh_key]
    # JSON is YAML, so this is a valid #cloud-config without a YAML library.
    return "#cloud-config\n" + json.dumps(doc, indent=2, sort_keys=True) + "\n"


vms = []
for index in range(1, count + 1):
    name = f"{prefix}-{index}"
    data_disks = None
    if data_disk_gib is not None:
        disk = VigoDisk(f"{name}-data", name=f"{name}-data", size_gib=data_disk_gib)
        data_disks = [{"path": disk.path, "serial": "data"}]
    vm = VigoVm(
        name,
        vm_name=name,
        memory_mib=memory_mib,
        vcpu=vcpu,
        artifact=artifact,
        disk_size_gib=disk_size_gib,
        network_bridge=bridge,
        network=network,
        data_disks=data_disks,
        cloud_init_user_data=user_data(name, index),
        state=state,
        wait_for=wait_for,
        shutdown_timeout_s=shutdown_timeout_s,
    )
    vms.append(vm)
    pulumi.export(
        name,
        {
            "name": vm.vm_name,
            "uuid": vm.uuid,
            "observed_state": vm.observed_state,
            "overlay_path": vm.overlay_path,
            "ip_address": vm.ip_address,
            "data_disks": vm.data_disks,
        },
    )

pulumi.export("artifact_id", vms[0].artifact_id)
