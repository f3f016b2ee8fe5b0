"""One arch table: the input grammar, the packages a refusal names, the default machines and
the curator's OCI names all come from common.arches."""

from __future__ import annotations

from pulumi_vigo_vm.common.arches import ARCHES, BY_NAME, oci_arch
from pulumi_vigo_vm.curator.platform import platform_for_machine
from pulumi_vigo_vm.vm.inputs import arch
from pulumi_vigo_vm.vm.machines import default_machine


def test_every_known_arch_is_an_accepted_input_with_a_default_machine_and_a_platform() -> None:
    for name in ARCHES:
        assert arch(name) == name
        assert default_machine(name, efi=True) == (
            "q35" if BY_NAME[name].pc_bios else BY_NAME[name].machine
        )
        assert platform_for_machine(name) == f"linux-{oci_arch(name)}"


def test_other_systems_uname_spellings_map_to_the_same_platforms() -> None:
    assert platform_for_machine("amd64") == platform_for_machine("x86_64") == "linux-amd64"
    assert platform_for_machine("arm64") == platform_for_machine("aarch64") == "linux-arm64"
