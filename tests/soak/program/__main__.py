"""A small fleet of every kind: one VigoBaseImage (`test:source`, `test:sha256`), and
`test:count` VMs (state `defined`: no guest boots) built on it, each with a VigoDisk of
its own attached through the disk's `path` Output, as a program should. Names are
`<test:prefix>-vmNN` and `<test:prefix>-dataNN`."""

import pulumi

from pulumi_vigo_vm import VigoBaseImage, VigoDisk, VigoVm

config = pulumi.Config("test")
prefix = config.require("prefix")
base = VigoBaseImage("base", source=config.require("source"), sha256=config.require("sha256"))
for index in range(int(config.require("count"))):
    disk = VigoDisk(f"data{index:02d}", name=f"{prefix}-data{index:02d}", size_gib=1)
    vm = VigoVm(
        f"vm{index:02d}",
        vm_name=f"{prefix}-vm{index:02d}",
        memory_mib=64,
        vcpu=1,
        state="defined",
        disk_path=base.path,
        data_disks=[{"path": disk.path}],
    )
    pulumi.export(f"vm{index:02d}", vm.uuid)
pulumi.export("base", base.path)
