"""VigoVmArgs holding Outputs in every field, through the engine harness: the program must
declare the VM (dataclasses.asdict would deep-copy the Outputs, which they refuse)."""

from __future__ import annotations

import pulumi
from harness_world import World

from pulumi_vigo_vm.testing import EngineHarness

VALUES = {
    "vm_name": "web01",
    "memory_mib": 512,
    "vcpu": 1,
    "disk_path": "/var/lib/libvirt/images/base.qcow2",
    "state": "defined",
    "disk_size_gib": 4,
    "network": "default",
    "cloud_init_user_data": "#cloud-config\n",
    # No libvirtd behind it: check's look-up of the NIC's network finds the host unreachable
    # and leaves it to the create, so this suite needs no host.
    "uri": "qemu+unix:///system?socket=/nonexistent/vigo-libvirt-sock",
    "domain_type": "qemu",
    "images_dir": "/var/lib/libvirt/images",
    "shutdown_timeout_s": 5,
    "wait_for": "none",
    "wait_timeout_s": 60,
    "address_source": "lease",
    "data_disks": [
        {
            "path": "/srv/data.qcow2",
            "format": "raw",
            "serial": "d1",
            "bus": "scsi",
            "readonly": True,
            "cache": "none",
            "io": "native",
            "iops": 100,
            "bytes_per_s": 1048576,
        }
    ],
    "cloud_init_network_config": "version: 2\n",
    "cloud_init_vendor_data": "#cloud-config\n",
    "cloud_init_meta_data": {"role": "db"},
    "on_seed_change": "reseed",
    "on_host_change": "migrate",
    "firmware": "efi",
    "tpm": True,
    "cpu_mode": "maximum",
    "machine": "q35",
    "arch": "x86_64",
    "max_vcpu": 2,
    "max_memory_mib": 1024,
    "restart_on_change": False,
    "autostart": False,
    "disk_mode": "copy",
    # Hardware and tuning (operations spec §4): judged against the host at check, which
    # finds it unreachable here (see uri) and leaves it to the create.
    "host_devices": [{"pci": "0000:3b:00.0"}, {"usb": "046d:c52b"}],
    "filesystems": [{"source": "/srv/share", "tag": "share", "readonly": False}],
    "cpu_pinning": ["0-1"],
    "numa": {"mode": "interleave", "nodeset": "0-1"},
    "hugepages": 2048,
    "iothreads": 2,
    "disk_cache": "writeback",
    "disk_io": "threads",
    "disk_iops": 1000,
    "disk_bytes_per_s": 10485760,
    "rng": False,
    "watchdog": {"model": "itco", "action": "poweroff"},
    "graphics": "vnc",
    "graphics_listen": "127.0.0.1",
    "graphics_password": "s3cret",
    "boot_order": ["hd", "network"],
}
# Exclusive with a field above (adopt needs disk_mode="attach"): passed as Outputs of None
# (absent) rather than a value.
ABSENT = ("artifact", "network_bridge", "nics", "adopt")


def outputs_program() -> None:
    from pulumi_vigo_vm import VigoVm, VigoVmArgs

    as_outputs = {k: pulumi.Output.from_input(v) for k, v in VALUES.items()}
    absent = {name: pulumi.Output.from_input(None) for name in ABSENT}
    vm = VigoVm("web01", VigoVmArgs(**as_outputs, **absent))
    pulumi.export("vm", {name: getattr(vm, name) for name in VALUES})


def test_outputs_in_every_field_of_vigovmargs_reach_check_unchanged(world: World) -> None:
    from pulumi_vigo_vm.vm.fields import INPUTS

    assert set(VALUES) | set(ABSENT) == {f.name for f in INPUTS if not f.set_by_resource}
    harness = EngineHarness(outputs_program, state_file=world.state_file)

    result = harness.preview()

    assert result.step("web01").op == "create"
    assert result.outputs["vm"] == VALUES  # the checked inputs, as a preview shows them
