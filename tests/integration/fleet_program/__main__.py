"""A Pulumi program declaring a fleet: `test:count` VigoVm sharing the args `test:vm`.

The per-VM config of tests/integration/program would not fit in one environment variable
at a thousand VMs, so the fleet is described by a count and one template. With
`test:hosts` (a JSON list of libvirt URIs) VM i lives on host i modulo their number, in
the images dir `test:imagesDirs` names for that host. With `test:dataDisks` set, each VM
attaches `<images_dir>/<vm_name>-data.qcow2` (a file the caller made), so the provider's
"used writable elsewhere" check runs for every VM."""

import json

import pulumi

from pulumi_vigo_vm import VigoVm

config = pulumi.Config("test")
template = json.loads(config.require("vm"))
prefix = config.require("prefix")
hosts = json.loads(config.get("hosts") or "[]")
images_dirs = json.loads(config.get("imagesDirs") or "[]")
data_disks = bool(config.get("dataDisks"))
for index in range(int(config.require("count"))):
    name = f"vm{index:04d}"
    vm_name = f"{prefix}-{name}"
    placement = {}
    if hosts:
        host = index % len(hosts)
        placement = {"uri": hosts[host], "images_dir": images_dirs[host]}
        if data_disks:
            placement["data_disks"] = [{"path": f"{images_dirs[host]}/{vm_name}-data.qcow2"}]
    VigoVm(name, vm_name=vm_name, **template, **placement)
