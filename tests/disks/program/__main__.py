"""A Pulumi program whose data disks come from config: `test:disks` maps resource name ->
VigoDisk args. An entry may carry `"_retain": true` (ResourceOptions(retain_on_delete=True))
and `"_aliases": ["old-name", ...]` (the resource's earlier names, as a program that renamed
it would pass them)."""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk

for name, args in json.loads(pulumi.Config("test").require("disks")).items():
    opts = pulumi.ResourceOptions(
        retain_on_delete=bool(args.pop("_retain", False)),
        aliases=[pulumi.Alias(name=old) for old in args.pop("_aliases", [])],
    )
    disk = VigoDisk(name, opts=opts, **args)
    pulumi.export(
        name,
        {
            "path": disk.path,
            "virtual_size_bytes": disk.virtual_size_bytes,
            "attached_to": disk.attached_to,
        },
    )
