"""The two-host rig (tests/support/twohost) is two hosts as libvirt sees them: different
names and host UUIDs, separate domains, a live peer-to-peer migration with storage copy in
both directions, and nothing of it left after its teardown."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.disks import has_marker, qemu_img, write_marker
from support.twohost import RigHost, TwoHosts, running_two_hosts

pytestmark = pytest.mark.libvirt

IMAGES = "/var/lib/libvirt/images"


def virsh(uri: str, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"virsh {' '.join(args)} on {uri}: {done.stderr}"
    return done.stdout


def domains(host: RigHost) -> set[str]:
    return set(virsh(host.local_uri, "list", "--all", "--name").split())


def host_uuid(host: RigHost) -> str:
    capabilities = virsh(host.libvirt_uri, "capabilities")
    return capabilities.split("<uuid>", 1)[1].split("</uuid>", 1)[0]


def domain_xml(name: str, disk: str) -> str:
    """A guest with no OS (it spins in the firmware), TCG, 32 MiB, one qcow2 disk."""
    return textwrap.dedent(
        f"""\
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>32</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='{disk}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
          </devices>
        </domain>
        """
    )


@pytest.fixture
def guest(two_hosts: TwoHosts, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running transient guest on host A whose 16 MiB disk holds a marker; destroyed on
    both hosts and its disks and A's log removed after."""
    name = f"rig-migrate-{os.getpid()}"
    disk = f"{IMAGES}/{name}.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", disk, "16M")
    write_marker(Path(disk))
    xml = tmp_path / "guest.xml"
    xml.write_text(domain_xml(name, disk))
    virsh(two_hosts.a.local_uri, "create", str(xml))
    try:
        yield name, disk
    finally:
        for host in (two_hosts.a, two_hosts.b):
            subprocess.run(["virsh", "-c", host.local_uri, "destroy", name], capture_output=True)
            host.path(disk).unlink(missing_ok=True)
        Path(f"/var/log/libvirt/qemu/{name}.log").unlink(missing_ok=True)


def test_hosts_answer_with_their_own_names_and_uuids(two_hosts: TwoHosts) -> None:
    a, b = two_hosts.a, two_hosts.b
    assert virsh(a.libvirt_uri, "hostname").strip() == a.hostname
    assert virsh(b.libvirt_uri, "hostname").strip() == b.hostname
    assert a.hostname != b.hostname
    assert host_uuid(a) != host_uuid(b)
    assert host_uuid(b) == two_hosts.plan.host_uuid


def test_a_domain_defined_on_b_is_not_on_a(two_hosts: TwoHosts, tmp_path: Path) -> None:
    name = f"rig-only-b-{os.getpid()}"
    xml = tmp_path / "only-b.xml"
    xml.write_text(domain_xml(name, f"{IMAGES}/{name}.qcow2"))
    virsh(two_hosts.b.libvirt_uri, "define", str(xml))
    try:
        assert name in domains(two_hosts.b)
        assert name not in domains(two_hosts.a)
        assert two_hosts.b.path(f"/etc/libvirt/qemu/{name}.xml").exists()
        assert not Path(f"/etc/libvirt/qemu/{name}.xml").exists()
    finally:
        virsh(two_hosts.b.libvirt_uri, "undefine", name)


def test_a_running_guest_migrates_live_to_b_and_back(
    two_hosts: TwoHosts, guest: tuple[str, str]
) -> None:
    """``virsh migrate --live --p2p --copy-storage-all`` each way: the source libvirtd opens
    the destination's URI itself (A over SSH to B's sshd, B to A's), qemu streams memory
    and disk over the veth. The destination's disk is created empty first (libvirt only
    creates it inside a storage pool); the marker arrives by the copy."""
    name, disk = guest
    a, b = two_hosts.a, two_hosts.b
    migrate = ("migrate", "--live", "--p2p", "--copy-storage-all", name)

    assert _cgroups_named(name), "A's guest has its cgroups (the helper finds them)"
    qemu_img("create", "-q", "-f", "qcow2", str(b.path(disk)), "16M")
    virsh(a.local_uri, *migrate, b.libvirt_uri)
    assert virsh(b.local_uri, "domstate", name).strip() == "running"
    assert name not in domains(a)
    assert has_marker(b.path(disk))
    assert not _cgroups_named(name), "B's guest must not take a cgroup of this machine's"

    Path(disk).unlink()
    qemu_img("create", "-q", "-f", "qcow2", disk, "16M")
    virsh(b.libvirt_uri, *migrate, a.libvirt_uri)
    assert virsh(a.local_uri, "domstate", name).strip() == "running"
    assert name not in domains(b)
    assert has_marker(Path(disk))


def test_teardown_leaves_nothing_of_the_rig(tmp_path: Path) -> None:
    """A rig of its own, with a guest running on B, taken down: no process, namespace,
    mount, veth or file of it remains."""
    with running_two_hosts() as rig:
        init = rig.init.pid
        namespaces = {os.readlink(f"/proc/{init}/ns/{kind}") for kind in ("net", "mnt", "pid")}
        xml = tmp_path / "b.xml"
        xml.write_text(domain_xml("rig-teardown", f"{IMAGES}/rig-teardown.qcow2"))
        qemu_img(
            "create", "-q", "-f", "qcow2", str(rig.b.path(IMAGES) / "rig-teardown.qcow2"), "1M"
        )
        virsh(rig.b.local_uri, "create", str(xml))
        assert _processes_in(namespaces), "the guest and B's daemons run in B's namespaces"
    assert not rig.plan.dir.exists()
    assert not Path(f"/sys/class/net/{rig.plan.veth_a}").exists()
    assert not _processes_in(namespaces)
    assert str(rig.plan.dir) not in Path("/proc/self/mountinfo").read_text()
    assert not [pid for pid, cmdline in _cmdlines() if str(rig.plan.dir) in cmdline]
    assert "rig-teardown" not in domains(rig.a)


def _processes_in(namespaces: set[str]) -> list[int]:
    found = []
    for pid, _ in _cmdlines():
        for kind in ("net", "mnt", "pid"):
            try:
                if os.readlink(f"/proc/{pid}/ns/{kind}") in namespaces:
                    found.append(pid)
                    break
            except OSError:
                break
    return found


def _cmdlines() -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found.append((int(entry), Path(f"/proc/{entry}/cmdline").read_text()))
            except OSError:
                continue
    return found


def _cgroups_named(name: str) -> list[Path]:
    """This machine's cgroups of guest ``name`` (libvirt without systemd: ``/machine/...``)."""
    return list(Path("/sys/fs/cgroup").glob(f"*/machine/*{name}*"))
