"""The ``vigo-vm`` policy pack: only assembles the rules from ``pulumi_vigo_vm.policies``.

Run by the Pulumi CLI (``pulumi preview --policy-pack policy``), which starts it as
``python -u -m pulumi.policy <engine-address> .`` inside this directory.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from pulumi_vigo_vm.policies import PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    description=(
        "Sizing and device limits for VigoVm and VigoDisk, single ownership of libvirt domains."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
)
