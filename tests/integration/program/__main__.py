"""A Pulumi program whose VMs come from config: `test:vms` maps resource name -> VigoVm args,
and `test:disks` (optional) resource name -> VigoDisk args.

A VM's `data_disks` entry may name a disk of `test:disks` as `{"disk": NAME, ...}`: it then
attaches that VigoDisk's `path` Output, as a program should. An entry may carry
`"_aliases": ["old-name", ...]`: the resource's earlier names, passed as
`ResourceOptions(aliases=...)` as a program that renamed a resource would."""

import json

import pulumi

from pulumi_vigo_vm import VigoDisk, VigoVm

config = pulumi.Config("test")
disks = {
    name: VigoDisk(name, **args) for name, args in json.loads(config.get("disks") or "{}").items()
}


def attached(entry: dict) -> dict:
    if "disk" not in entry:
        return entry
    rest = {k: v for k, v in entry.items() if k != "disk"}
    return {"path": disks[entry["disk"]].path, **rest}


for name, args in json.loads(config.require("vms")).items():
    aliases = [pulumi.Alias(name=old) for old in args.pop("_aliases", [])]
    if isinstance(args.get("disk_path"), dict):  # {"disk": NAME}: a VigoDisk as the root
        args["disk_path"] = disks[args["disk_path"]["disk"]].path
    if "data_disks" in args:
        args["data_disks"] = [attached(entry) for entry in args["data_disks"]]
    vm = VigoVm(name, opts=pulumi.ResourceOptions(aliases=aliases), **args)
    pulumi.export(name, {"uuid": vm.uuid, "observed_state": vm.observed_state})
