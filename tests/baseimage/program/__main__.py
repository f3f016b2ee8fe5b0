"""Base images from config `test:images` (resource name -> VigoBaseImage args), and VMs from
`test:vms` (resource name -> VigoVm args, with `"base": <image name>`: its disk_path is that
image's `path` output, so the VM depends on it as a program passing `base.path` does)."""

import json

import pulumi

from pulumi_vigo_vm import VigoBaseImage, VigoVm

config = pulumi.Config("test")
bases = {}
for name, args in json.loads(config.require("images")).items():
    bases[name] = base = VigoBaseImage(name, **args)
    pulumi.export(
        name,
        {
            "path": base.path,
            "format": base.format,
            "size_bytes": base.size_bytes,
            "virtual_size_bytes": base.virtual_size_bytes,
            "sha256": base.sha256,
        },
    )
for name, args in json.loads(config.get("vms") or "{}").items():
    vm = VigoVm(name, disk_path=bases[args.pop("base")].path, **args)
    pulumi.export(name, {"uuid": vm.uuid})
