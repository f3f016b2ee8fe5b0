"""A Pulumi program declaring a fleet: `test:count` VigoVm sharing the args `test:vm`.

The per-VM config of tests/integration/program would not fit in one environment variable
at a thousand VMs, so the fleet is described by a count and one template."""

import json

import pulumi

from pulumi_vigo_vm import VigoVm

config = pulumi.Config("test")
template = json.loads(config.require("vm"))
prefix = config.require("prefix")
for index in range(int(config.require("count"))):
    name = f"vm{index:04d}"
    VigoVm(name, vm_name=f"{prefix}-{name}", **template)
