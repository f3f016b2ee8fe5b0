"""What a host can run (platform.py, machines.py) and how plans use it (fleet spec §4), from
capabilities XML libvirt 9.0 printed on this machine kind (tests/unit/data/host/)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.common.hostcaps import (
    DomainCaps,
    HostPlatform,
    parse_domain_caps,
    parse_guest_arches,
    parse_host_arch,
)
from pulumi_vigo_vm.errors import HostError, NotOwnedError
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.axes import Action, desired_domain, plan_converge
from pulumi_vigo_vm.vm.domain_xml import LiveDomain, from_xml, to_xml
from pulumi_vigo_vm.vm.inputs import Firmware
from pulumi_vigo_vm.vm.machines import default_machine, machine_family
from pulumi_vigo_vm.vm.model import Observed
from pulumi_vigo_vm.vm.runnable import require_runnable
from pulumi_vigo_vm.vm.spec import VmSpec, check_inputs

from ._values import CLAIM, IDENTITY, VALID_PROPS, converged, make_base, make_recorded, make_spec

HOST = Path(__file__).parent / "data" / "host"
DEFAULTS_QEMU = {**VALID_PROPS, "domain_type": "qemu"}


def read(name: str) -> str:
    return (HOST / name).read_text()


X86_Q35 = parse_domain_caps(read("domcaps-x86_64-q35-qemu.xml"))
AARCH64_VIRT = parse_domain_caps(read("domcaps-aarch64-virt-qemu.xml"))


def x86(caps: DomainCaps = X86_Q35, **changes: Any) -> HostPlatform:
    """An x86_64 host with OVMF, swtpm and qemu-system-arm; ``changes`` override."""
    return replace(HostPlatform("x86_64", "x86_64", True, caps), **changes)


# --- parsing ---------------------------------------------------------------------------


def test_capabilities_give_the_host_arch_and_what_each_domain_type_runs() -> None:
    text = read("capabilities.xml")
    assert parse_host_arch(text) == "x86_64"
    assert parse_guest_arches(text, "kvm") == {"x86_64", "i686"}
    assert {"x86_64", "i686", "aarch64", "armv7l"} <= parse_guest_arches(text, "qemu")
    assert "riscv64" not in parse_guest_arches(text, "qemu")  # qemu-system-misc is absent


def test_domcapabilities_give_firmware_secure_boot_tpm_and_cpu_modes() -> None:
    assert (
        DomainCaps(
            efi=True,
            secure_boot=True,
            tpm_emulator=True,
            cpu_modes=frozenset({"maximum", "host-model", "custom"}),
        )
        == X86_Q35
    )
    assert (AARCH64_VIRT.efi, AARCH64_VIRT.secure_boot) == (True, False)
    assert "host-model" not in AARCH64_VIRT.cpu_modes
    # libvirt's default aarch64 machine (integratorcp) has no UEFI: hence `virt`
    assert not parse_domain_caps(read("domcaps-aarch64-integratorcp-qemu.xml")).efi


@pytest.mark.parametrize(
    ("machine", "family"),
    [("pc-q35-7.2", "q35"), ("pc-i440fx-7.2", "pc"), ("virt-7.2", "virt"), ("q35", "q35")],
)
def test_machines_compare_by_family(machine: str, family: str) -> None:
    assert machine_family(machine) == family


def test_default_machines() -> None:
    assert [default_machine("x86_64", False), default_machine("x86_64", True)] == ["pc", "q35"]
    assert default_machine("aarch64", True) == "virt"


# --- what a host lacks ----------------------------------------------------------------

NO_FIRMWARE = replace(X86_Q35, efi=False, secure_boot=False)


@pytest.mark.parametrize(
    ("changes", "platform", "match"),
    [
        ({"firmware": Firmware.EFI}, x86(NO_FIRMWARE), r"firmware: .*apt-get install ovmf"),
        (
            {"firmware": Firmware.EFI_SECURE},
            x86(replace(X86_Q35, secure_boot=False)),
            r"firmware: no Secure Boot firmware",
        ),
        ({"tpm": True}, x86(replace(X86_Q35, tpm_emulator=False)), r"tpm: .*swtpm swtpm-tools"),
        (
            {"arch": "aarch64"},
            x86(arch="aarch64", caps=replace(AARCH64_VIRT, efi=False)),
            r"apt-get install qemu-efi-aarch64",
        ),
        (
            {"arch": "aarch64"},
            x86(arch="aarch64", emulated=False, caps=None),
            r"arch: aarch64 .*apt-get install qemu-system-arm",
        ),
        (
            {"arch": "aarch64", "domain_type": "kvm"},
            x86(arch="aarch64", emulated=False, caps=None),
            r"arch: KVM runs only the host's own architecture \(x86_64\)",
        ),
        (
            {"arch": "aarch64", "cpu_mode": "host-model"},
            x86(arch="aarch64", caps=AARCH64_VIRT),
            r"cpu_mode: host-model is not available for aarch64",
        ),
    ],
)
def test_what_the_host_lacks_is_an_error_naming_the_input_and_the_package(
    changes: dict[str, object], platform: HostPlatform, match: str
) -> None:
    spec = make_spec(**{"domain_type": "qemu", "cpu_mode": "maximum", **changes})
    with pytest.raises(HostError, match=match):
        require_runnable(spec, platform)
    with pytest.raises(HostError, match=match):  # the plan stops before any action
        plan_converge(spec, replace(converged(spec), platform=platform), make_base(), IDENTITY)


# --- inputs ---------------------------------------------------------------------------


def faults(**props: object) -> list[str]:
    return [f.property for f in check_inputs({**DEFAULTS_QEMU, **props}, ProviderDefaults())[1]]


def test_cpu_mode_defaults_by_domain_type_and_passthrough_needs_kvm() -> None:
    assert check_inputs(DEFAULTS_QEMU, ProviderDefaults())[0]["cpu_mode"] == "maximum"
    assert check_inputs(VALID_PROPS, ProviderDefaults())[0]["cpu_mode"] == "host-passthrough"
    assert faults(cpu_mode="host-passthrough") == ["cpu_mode"]
    assert faults(cpu_mode="custom:EPYC") == []
    assert faults(cpu_mode="custom:") == ["cpu_mode"]


def test_secure_boot_needs_q35_and_x86() -> None:
    assert faults(firmware="efi-secure", machine="pc-q35-7.2") == []
    assert faults(firmware="efi-secure", machine="pc") == ["machine"]
    assert faults(firmware="efi-secure", arch="aarch64") == ["firmware"]
    assert faults(firmware="uefi", tpm="yes", arch="sparc") == ["firmware", "tpm", "arch"]


# --- plans ----------------------------------------------------------------------------


def running_on_x86(spec: VmSpec, **changes: Any) -> Observed:
    """An x86 host running ``spec``'s VM as defined (``changes`` override the definition)."""
    config = replace(desired_domain(spec, IDENTITY, x86()), **changes)
    return replace(
        converged(spec),
        domain=LiveDomain(config, marked=True, claim=CLAIM),
        running=config,
        platform=x86(),
    )


V1_RUNNING = {"arch": "x86_64", "machine": "pc-i440fx-7.2", "cpu_mode": "custom:qemu64"}
"""A domain of the previous release as libvirt reports it: no <cpu> of ours (libvirt's
qemu64), no discard, the machine libvirt chose."""


def test_a_previous_release_s_running_vm_gets_the_new_defaults_without_a_restart() -> None:
    spec = make_spec(domain_type="qemu")
    observed = running_on_x86(spec, discard=False, **V1_RUNNING)

    plan = plan_converge(spec, observed, make_base(), IDENTITY, make_recorded(spec))

    assert plan.actions == (Action.DEFINE,)
    assert plan.domain == desired_domain(spec, IDENTITY, x86())


def test_a_changed_cpu_mode_restarts_a_running_vm() -> None:
    old, new = make_spec(domain_type="qemu"), make_spec(domain_type="qemu", cpu_mode="host-model")
    observed = running_on_x86(old)
    recorded = make_recorded(old)
    assert plan_converge(old, observed, make_base(), IDENTITY, recorded).actions == ()

    plan = plan_converge(new, observed, make_base(), IDENTITY, recorded)

    assert plan.actions == (Action.DEFINE, Action.SHUTDOWN, Action.START)


def test_a_file_at_the_nvram_path_that_our_domain_does_not_reference_is_refused() -> None:
    spec = make_spec(domain_type="qemu", firmware=Firmware.EFI)
    bios = make_spec(domain_type="qemu")
    observed = replace(running_on_x86(bios), nvram_present=True)

    with pytest.raises(NotOwnedError, match=r"firmware: .*web01@VARS.fd already exists"):
        plan_converge(spec, observed, make_base(), IDENTITY, make_recorded(bios))


def test_an_efi_vm_keeps_its_nvram_and_going_back_to_bios_removes_it_after_the_restart() -> None:
    efi = make_spec(domain_type="qemu", firmware=Firmware.EFI)
    observed = replace(running_on_x86(efi), nvram_present=True)
    live = observed.running
    assert live is not None
    assert plan_converge(efi, observed, make_base(), IDENTITY, make_recorded(efi)).actions == ()
    assert live.nvram_path == "/var/lib/libvirt/images/web01@VARS.fd"
    assert live.machine == "q35"

    bios = make_spec(domain_type="qemu")
    plan = plan_converge(bios, observed, make_base(), IDENTITY, make_recorded(efi))

    assert plan.actions == (Action.DEFINE, Action.SHUTDOWN, Action.START, Action.REMOVE_FILES)
    assert plan.removals == (live.nvram_path,)


def test_aarch64_boots_its_uefi_on_the_virt_machine_without_an_apic() -> None:
    spec = make_spec(domain_type="qemu", arch="aarch64")
    wanted = desired_domain(spec, IDENTITY, x86(arch="aarch64", caps=AARCH64_VIRT))
    assert (wanted.arch, wanted.machine, wanted.firmware) == ("aarch64", "virt", "efi")
    assert wanted.nvram_path == spec.nvram_path
    assert wanted.cpu_mode == "maximum"
    assert "<apic" not in to_xml(wanted, CLAIM)  # an x86 feature


def test_the_new_fields_survive_a_round_trip_and_a_running_definition_reads_back() -> None:
    spec = make_spec(domain_type="qemu", firmware=Firmware.EFI_SECURE, tpm=True)
    config = replace(desired_domain(spec, IDENTITY, x86()), cpu_mode="custom:EPYC")
    text = to_xml(config, CLAIM)
    assert from_xml(text).config == config
    assert '<smm state="on" />' in text and 'discard="unmap"' in text
    # Once running, libvirt drops the auto-selection request and shows the loader it chose.
    running = (
        "<domain type='qemu'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type>"
        "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
        "</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/i/web01@VARS.fd</nvram>"
        "</os></domain>"
    )
    parsed = from_xml(running).config
    assert (parsed.firmware, parsed.nvram_path, parsed.cpu_mode) == (
        "efi-secure",
        "/i/web01@VARS.fd",
        None,
    )
