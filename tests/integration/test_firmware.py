"""EFI, Secure Boot, TPM, CPU mode, aarch64 and discard against a real libvirtd (fleet spec
§4). The disks are blank, so no OS boots: the firmware runs, and what it prints on the
serial console (AAVMF's banner, Secure Boot refusing the unsigned EFI shell) is the proof
that the VM really boots the way it was defined."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.vm.filenames import console_log_path

pytestmark = pytest.mark.libvirt

SWTPM_STATE = Path("/var/lib/libvirt/swtpm")
EFI_MEMORY_MIB = 128  # OVMF and AAVMF want more than a BIOS guest's 64 MiB


def nvram(lab: Lab, short: str) -> Path:
    return lab.images_dir / f"{lab.name(short)}@VARS.fd"


def live_xml(lab: Lab, short: str, flags: int = 0) -> ET.Element:
    return ET.fromstring(lab.domain(short).XMLDesc(flags))


def inactive_xml(lab: Lab, short: str) -> ET.Element:
    return live_xml(lab, short, libvirt.VIR_DOMAIN_XML_INACTIVE)


def console_shows(lab: Lab, short: str, text: str, timeout_s: float = 120.0) -> bool:
    """The VM's console log (written by virtlogd) shows ``text`` within ``timeout_s``."""
    log = Path(console_log_path(lab.name(short)))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text.encode() in log.read_bytes():
            return True
        time.sleep(1)
    return False


def assert_no_change(lab: Lab) -> None:
    steps = [s.describe() for s in lab.preview().steps if s.op != "same"]
    assert not steps, steps


@pytest.mark.transport
def test_an_efi_vm_keeps_its_nvram_across_redefines_and_stops_and_loses_it_with_the_vm(
    lab: Lab,
) -> None:
    lab.vm("e", firmware="efi", memory_mib=EFI_MEMORY_MIB)
    assert lab.up().ops() == {"e": "create"}

    os_element = live_xml(lab, "e").find("os")
    loader = os_element.find("loader")
    assert loader.get("type") == "pflash" and loader.get("secure") != "yes"
    assert "OVMF" in loader.text
    assert os_element.find("type").get("machine").startswith("pc-q35-")
    assert os_element.findtext("nvram") == str(nvram(lab, "e"))
    assert nvram(lab, "e").is_file()  # created from the firmware's template at first start
    assert lab.outputs("e")["firmware"] == "efi"
    assert_no_change(lab)
    inode = nvram(lab, "e").stat().st_ino

    lab.vm("e", firmware="efi", memory_mib=EFI_MEMORY_MIB + 64)  # a redefine and a restart
    assert lab.up().ops() == {"e": "update"}
    lab.vm("e", firmware="efi", memory_mib=EFI_MEMORY_MIB + 64, state="stopped")
    assert lab.up().ops() == {"e": "update"}
    assert nvram(lab, "e").stat().st_ino == inode

    lab.harness().destroy()
    assert lab.domain("e") is None
    assert not nvram(lab, "e").exists()
    lab.assert_clean()


def test_a_secure_boot_vm_with_a_tpm_enforces_secure_boot_and_takes_its_tpm_state_along(
    lab: Lab,
) -> None:
    lab.vm("s", firmware="efi-secure", tpm=True, memory_mib=EFI_MEMORY_MIB)
    lab.up()
    uuid = lab.domain("s").UUIDString()

    live = live_xml(lab, "s")
    assert live.find("os/loader").get("secure") == "yes"
    assert live.find("features/smm").get("state") == "on"
    assert live.find("os/type").get("machine").startswith("pc-q35-")
    assert live.find("devices/tpm/backend").attrib == {"type": "emulator", "version": "2.0"}
    assert (SWTPM_STATE / uuid).is_dir()
    # OVMF with Microsoft's keys refuses its own unsigned EFI shell: Secure Boot is on.
    assert console_shows(lab, "s", "Security Violation")
    assert nvram(lab, "s").is_file()

    lab.harness().destroy()
    assert not nvram(lab, "s").exists()
    assert not (SWTPM_STATE / uuid).exists()
    lab.assert_clean()


def test_an_emulated_aarch64_vm_runs_aavmf_on_the_virt_machine_and_logs_its_uart(
    lab: Lab,
) -> None:
    lab.vm("arm", arch="aarch64", memory_mib=EFI_MEMORY_MIB * 2)
    lab.up()

    live = live_xml(lab, "arm")
    kind = live.find("os/type")
    assert kind.get("arch") == "aarch64" and kind.get("machine").startswith("virt")
    assert "AAVMF" in live.findtext("os/loader")
    assert live.find("devices/serial/target").get("type") == "system-serial"  # the PL011
    assert live.find("cpu").get("mode") == "maximum"
    assert console_shows(lab, "arm", "UEFI firmware")  # AAVMF's banner, on its UART
    outputs = lab.outputs("arm")
    assert (outputs["arch"], outputs["firmware"]) == ("aarch64", "bios")  # bios: its UEFI
    assert_no_change(lab)

    lab.harness().destroy()
    assert not nvram(lab, "arm").exists()
    lab.assert_clean()


def test_cpu_mode_and_discard_reach_the_definition_and_a_cpu_change_restarts(lab: Lab) -> None:
    lab.vm("c")
    lab.up()
    assert live_xml(lab, "c").find("cpu").get("mode") == "maximum"  # the default under qemu
    assert inactive_xml(lab, "c").find("devices/disk/driver").get("discard") == "unmap"
    assert lab.outputs("c")["cpu_mode"] == "maximum"
    started_as = lab.domain("c").ID()

    lab.vm("c", cpu_mode="host-model")
    assert lab.preview().ops() == {"c": "update"}
    assert lab.up().ops() == {"c": "update"}

    assert inactive_xml(lab, "c").find("cpu").get("mode") == "host-model"
    assert lab.domain("c").ID() != started_as  # restarted with it
    assert_no_change(lab)


def test_bios_to_efi_and_back_is_an_update_over_the_same_overlay(lab: Lab) -> None:
    lab.vm("f", memory_mib=EFI_MEMORY_MIB)
    lab.up()
    uuid, overlay = lab.domain("f").UUIDString(), lab.overlay("f").stat().st_ino
    assert live_xml(lab, "f").find("os/loader") is None  # SeaBIOS

    lab.vm("f", memory_mib=EFI_MEMORY_MIB, firmware="efi")
    assert lab.up().ops() == {"f": "update"}
    assert live_xml(lab, "f").find("os/loader").get("type") == "pflash"  # restarted on EFI
    assert nvram(lab, "f").is_file()

    lab.vm("f", memory_mib=EFI_MEMORY_MIB)
    assert lab.up().ops() == {"f": "update"}
    assert live_xml(lab, "f").find("os/loader") is None
    assert not nvram(lab, "f").exists()  # its variables go once no definition uses them
    assert (lab.domain("f").UUIDString(), lab.overlay("f").stat().st_ino) == (uuid, overlay)
    assert_no_change(lab)


def test_a_file_at_the_nvram_path_that_no_domain_of_ours_references_is_refused(
    lab: Lab,
) -> None:
    lab.images_dir.mkdir()
    foreign = nvram(lab, "n")
    foreign.write_bytes(b"someone's UEFI variables")
    lab.vm("n", firmware="efi", memory_mib=EFI_MEMORY_MIB)

    with pytest.raises(ProviderError, match=r"firmware: .*@VARS\.fd already exists"):
        lab.up()

    assert foreign.read_bytes() == b"someone's UEFI variables"
    assert lab.domains() == set()
    assert lab.files() == {foreign.name}


def test_what_a_host_lacks_is_refused_before_anything_is_made_naming_the_package(
    lab: Lab,
) -> None:
    # Not installed here (see setup-host): riscv64 lives in Debian's qemu-system-misc.
    assert not os.path.exists("/usr/bin/qemu-system-riscv64")
    lab.vm("r", arch="riscv64")
    with pytest.raises(ProviderError, match=r"arch: riscv64 .*apt-get install qemu-system-misc"):
        lab.up()

    lab.vm("r", arch="aarch64", domain_type="kvm")
    with pytest.raises(ProviderError, match=r"arch: KVM runs only the host's own"):
        lab.up()

    lab.vm("r", arch="aarch64", cpu_mode="host-model")
    with pytest.raises(ProviderError, match=r"cpu_mode: host-model is not available for aarch64"):
        lab.up()

    lab.vm("r", machine="pc-none-9.9")
    with pytest.raises(ProviderError, match=r"machine: 'pc-none-9.9' is not a machine type"):
        lab.up()

    assert lab.domains() == set()
    assert lab.files() == set()
