"""The proof of issue 25 (operations spec §1) with a domain ``virt-install`` itself made, not
one our tests wrote as XML: the program ``python -m pulumi_vigo_vm.discover`` prints for it
adopts the RUNNING domain with its ID and qemu process unchanged, the next preview is a
no-op, a ``memory_mib`` change converges by the plan's rule, and destroy keeps its disk.

The guest boots no OS: its disk is blank, so SeaBIOS runs in a qemu process (TCG) that finds
nothing to boot. A running qemu process is all adoption needs (the domain's ID, PID and
definition are the host's facts); no test here waits for a guest. ``virt-install`` always
talks to the local libvirtd (the one the ``qemu+ssh`` transport reaches through the private
sshd): the transport under test is discover's and the provider's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libvirt
import pytest
from support.disks import qemu_img, write_marker
from support.lab import Lab
from support.network import IsolatedNetwork
from support.world import LOCAL_URI

from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt

MAC = "52:54:00:5c:00:01"
PIDS = Path("/run/libvirt/qemu")
HEADER_BYTES = 64 * 1024  # a qcow2's first cluster: its header and the tables' offsets


def _virt_install(lab: Lab, network: IsolatedNetwork, short: str, disk: Path) -> str:
    """Domain ``short`` as an operator makes it: virt-install, TCG, 64 MiB, the disk imported
    as it is, a NIC on the isolated network (the model virt-install picks), a VNC display on
    127.0.0.1; started, not waited for."""
    name = lab.name(short)
    argv = [
        "virt-install",
        f"--connect={LOCAL_URI}",
        f"--name={name}",
        "--virt-type=qemu",
        "--memory=64",
        "--vcpus=1",
        "--osinfo=generic",  # its defaults for an OS it does not know: an e1000 NIC
        f"--disk=path={disk},format=qcow2,bus=virtio",
        f"--network=network={network.name},mac={MAC}",
        "--graphics=vnc,listen=127.0.0.1",
        "--import",
        "--noautoconsole",
    ]
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)
    return name


def _qemu_pid(name: str) -> int:
    """The qemu process libvirt runs the domain in (its pidfile), checked to be alive."""
    pid = int((PIDS / f"{name}.pid").read_text().strip())
    assert Path(f"/proc/{pid}").exists(), f"qemu pid {pid} of {name} is not running"
    return pid


def _discovered(lab: Lab, name: str) -> Path:
    """The program discover prints for domain ``name``, as a Pulumi project."""
    printed = subprocess.run(
        [sys.executable, "-m", "pulumi_vigo_vm.discover", lab.uri, name],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    program = lab.root / "adopted"
    program.mkdir(exist_ok=True)
    (program / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    (program / "__main__.py").write_text(printed)
    return program


def _edit(program: Path, old: str, new: str) -> None:
    """The operator's edit of the printed program: ``old`` (once in it) becomes ``new``."""
    main = program / "__main__.py"
    text = main.read_text()
    assert text.count(old) == 1, text
    main.write_text(text.replace(old, new))


@pytest.mark.transport  # discover and the provider reach the host over the transport
def test_a_running_virt_install_guest_is_adopted_by_the_discovered_program(
    lab: Lab, isolated_network: IsolatedNetwork
) -> None:
    disk = lab.root / "vi-root.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(disk), "64M")
    write_marker(disk)  # data in it, as a used disk has
    header = disk.read_bytes()[:HEADER_BYTES]
    name = _virt_install(lab, isolated_network, "vi", disk)
    domain = lab.domain("vi")
    assert domain is not None and domain.isActive()
    domain_id, pid = domain.ID(), _qemu_pid(name)
    before = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    program = _discovered(lab, name)
    printed = (program / "__main__.py").read_text()
    assert f'"network": "{isolated_network.name}"' in printed and MAC in printed, printed
    assert '"model": "e1000"' in printed, printed
    engine = lab.engine(program, lab.provider_config())

    # Without adopt the domain is refused as before: nothing changed, nothing recorded.
    _edit(program, f'    adopt="{domain.UUIDString()}",\n', "")
    with pytest.raises(ProviderError, match="was not created by pulumi_vigo_vm"):
        engine.up()
    assert domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
    assert engine.snapshot().program_resources() == []

    (program / "__main__.py").write_text(printed)
    assert engine.up().ops() == {name: "create"}, printed

    assert (domain.ID(), _qemu_pid(name)) == (domain_id, pid), "adopting must not restart"
    persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert from_xml(persistent).marked and from_xml(domain.XMLDesc(0)).marked
    assert "<graphics type='vnc'" in persistent, "a device of a kind not modelled is kept"
    assert engine.preview().counts() == {"same": 1}

    # 96 MiB is above the 64 the guest booted with: the plan's rule is a power cycle (a new
    # qemu process with 96 MiB); below the booted maximum it would apply live.
    _edit(program, "    memory_mib=64,\n", "    memory_mib=96,\n    shutdown_timeout_s=1,\n")
    assert engine.up().ops() == {name: "update"}
    assert domain.isActive() and _qemu_pid(name) != pid
    assert domain.maxMemory() == 96 * 1024
    assert from_xml(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).config.memory_mib == 96
    assert engine.preview().counts() == {"same": 1}

    engine.destroy()
    assert lab.domain("vi") is None
    assert disk.exists() and disk.read_bytes()[:HEADER_BYTES] == header, "a root never removed"
