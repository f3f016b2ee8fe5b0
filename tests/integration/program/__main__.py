"""A Pulumi program whose VMs come from config: `test:vms` maps resource name -> VigoVm args.

An entry may carry `"_aliases": ["old-name", ...]`: the resource's earlier names, passed as
`ResourceOptions(aliases=...)` as a program that renamed a resource would."""

import json

import pulumi

from pulumi_vigo_vm import VigoVm

for name, args in json.loads(pulumi.Config("test").require("vms")).items():
    aliases = [pulumi.Alias(name=old) for old in args.pop("_aliases", [])]
    vm = VigoVm(name, opts=pulumi.ResourceOptions(aliases=aliases), **args)
    pulumi.export(name, {"uuid": vm.uuid, "observed_state": vm.observed_state})
