"""A Pulumi program whose VMs come from config: `test:vms` maps resource name -> VigoVm args."""

import json

import pulumi

from pulumi_vigo_vm import VigoVm

for name, args in json.loads(pulumi.Config("test").require("vms")).items():
    vm = VigoVm(name, **args)
    pulumi.export(name, {"uuid": vm.uuid, "observed_state": vm.observed_state})
