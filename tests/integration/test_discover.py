"""``python -m pulumi_vigo_vm.discover`` (operations spec §1) on a real libvirtd: the program
it prints for domains another tool made is ruff-clean, and its ``up`` adopts them with
nothing restarted; the next preview is a no-op.

The domains are defined from XML as virt-install leaves them (BIOS and UEFI, two disks, a
NIC, a VNC display), which no single virt-install run of a blank disk gives; a domain
virt-install itself made is adopted in test_adopt_virt_install.py.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
import uuid
from pathlib import Path

import libvirt
import pytest
from support.disks import qemu_img
from support.lab import Lab

from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt

RUFF = Path(sys.executable).parent / "ruff"
DOMAIN = """
<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>1</vcpu>
  <os{firmware}><type arch='x86_64' machine='{machine}'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <cpu mode='maximum'/>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='{root}'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='{data}'/><target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <mac address='{mac}'/><source bridge='{bridge}'/><model type='virtio'/>
    </interface>
    <graphics type='vnc' autoport='yes'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
"""


def _domain(lab: Lab, short: str, mac: str, efi: bool) -> str:
    root, data = lab.root / f"{short}-root.qcow2", lab.root / f"{short}-data.raw"
    qemu_img("create", "-q", "-f", "qcow2", str(root), "64M")
    qemu_img("create", "-q", "-f", "raw", str(data), "16M")
    xml = DOMAIN.format(
        name=lab.name(short),
        uuid=uuid.uuid4(),
        firmware=" firmware='efi'" if efi else "",
        machine="q35" if efi else "pc",
        root=root,
        data=data,
        mac=mac,
        bridge=lab.bridge,
    )
    lab.live_conn().defineXML(xml)
    return lab.name(short)


@pytest.mark.transport  # discover reads the host over its own connection
def test_the_printed_program_adopts_every_domain_with_nothing_restarted(lab: Lab) -> None:
    names = [
        _domain(lab, "bios", "52:54:00:5b:00:01", efi=False),
        _domain(lab, "uefi", "52:54:00:5b:00:02", efi=True),
    ]
    running = lab.domain("bios")
    assert running is not None
    running.create()
    running_id = running.ID()
    booted_with = running.XMLDesc(0)

    printed = subprocess.run(
        [sys.executable, "-m", "pulumi_vigo_vm.discover", lab.uri, *names],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    program = lab.root / "adopted"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    (program / "__main__.py").write_text(printed)
    for check in (["check"], ["format", "--check"]):
        ruff = [str(RUFF), *check, "--isolated", "--line-length", "100", str(program)]
        result = subprocess.run(ruff, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr + printed

    adopted = lab.engine(program, lab.provider_config())
    assert adopted.up().ops() == dict.fromkeys(names, "create"), printed

    again = lab.domain("bios")  # a fresh handle: a handle keeps the ID it was looked up with
    assert again is not None
    changed = "".join(
        difflib.unified_diff(booted_with.splitlines(True), again.XMLDesc(0).splitlines(True))
    )
    assert again.ID() == running_id, "adopting must not restart the guest:\n" + printed + changed
    for short in ("bios", "uefi"):
        domain = lab.domain(short)
        assert domain is not None
        persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert from_xml(persistent).marked, short
        assert "<graphics type='vnc'" in persistent and "libosinfo" in persistent
    assert adopted.preview().counts() == {"same": 2}
