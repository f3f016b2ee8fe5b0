"""A Pulumi program of VMs, data disks and snapshots from config: `test:vms` and
`test:disks` as tests/integration/program reads them, and `test:snapshots` maps resource
name -> VigoSnapshot args, where `"vm": NAME` passes that VigoVm's `vm_name` Output (as a
program should) and `vm_name` a plain string."""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk, VigoSnapshot, VigoVm

config = pulumi.Config("test")
disks = {
    name: VigoDisk(name, **args) for name, args in json.loads(config.get("disks") or "{}").items()
}


def attached(entry: dict) -> dict:
    if "disk" not in entry:
        return entry
    rest = {k: v for k, v in entry.items() if k != "disk"}
    return {"path": disks[entry["disk"]].path, **rest}


vms = {}
for name, args in json.loads(config.get("vms") or "{}").items():
    if "data_disks" in args:
        args["data_disks"] = [attached(entry) for entry in args["data_disks"]]
    vms[name] = VigoVm(name, **args)

for name, args in json.loads(config.get("snapshots") or "{}").items():
    if "vm" in args:
        args["vm_name"] = vms[args.pop("vm")].vm_name
    snapshot = VigoSnapshot(name, **args)
    pulumi.export(name, {"state": snapshot.state, "disks": snapshot.disks})
