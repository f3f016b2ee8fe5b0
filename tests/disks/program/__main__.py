"""A Pulumi program whose data disks come from config: `test:disks` maps resource name ->
VigoDisk args. An entry may carry `"_retain": true` (ResourceOptions(retain_on_delete=True))."""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk

for name, args in json.loads(pulumi.Config("test").require("disks")).items():
    opts = pulumi.ResourceOptions(retain_on_delete=bool(args.pop("_retain", False)))
    disk = VigoDisk(name, opts=opts, **args)
    pulumi.export(
        name,
        {
            "path": disk.path,
            "virtual_size_bytes": disk.virtual_size_bytes,
            "attached_to": disk.attached_to,
        },
    )
