"""A VM moved between two hosts by a `uri` change (on_host_change="migrate"), through the
engine harness, on the two-host rig (tests/support/twohost): A is this machine's libvirtd,
B a second libvirtd in its own namespaces, reached over SSH.

The VMs' own files live in an images directory under /var/lib/libvirt/images, which each
host has of its own; the base sits in the test's world under /var/tmp, which both hosts
share (as a fleet's shared base store would be). No guest OS boots: a running VM is a qemu
process spinning in its firmware, which is all a live migration needs.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from support.disks import has_marker, qemu_img, write_marker
from support.lab import Lab
from support.twohost import RigHost, TwoHosts

pytestmark = pytest.mark.libvirt

IMAGES = "/var/lib/libvirt/images"


@pytest.fixture
def images(lab: Lab, two_hosts: TwoHosts) -> Iterator[str]:
    """An images directory of this test's own on each host (the same path, not shared)."""
    path = f"{IMAGES}/{lab.prefix}"
    yield path
    # the lab's teardown destroys the stack first (on whichever host its state names)
    for host in (two_hosts.a, two_hosts.b):
        shutil.rmtree(host.path(path), ignore_errors=True)


def _conn(host: RigHost) -> libvirt.virConnect:
    return libvirt.open(host.local_uri)


def _domain(host: RigHost, name: str) -> libvirt.virDomain | None:
    conn = _conn(host)
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError:
        return None


def _files(host: RigHost, images: str) -> set[str]:
    root = host.path(images)
    return {p.name for p in root.iterdir()} if root.exists() else set()


def _vm(lab: Lab, images: str, uri: str, **args: Any) -> dict[str, Any]:
    return lab.vm(
        "m",
        uri=uri,
        images_dir=images,
        on_host_change="migrate",
        cloud_init_user_data="#cloud-config\n",
        **args,
    )


def _holds_nothing(host: RigHost, lab: Lab, images: str) -> None:
    assert _domain(host, lab.name("m")) is None
    assert _files(host, images) == set(), _files(host, images)


def _holds_it(
    host: RigHost, lab: Lab, images: str, uuid: str, power: str, *, marked: bool = True
) -> None:
    """``host`` holds the VM: our UUID, in ``power``, its root with the marker written into
    it before the move (when ``marked``)."""
    domain = _domain(host, lab.name("m"))
    assert domain is not None and domain.UUIDString() == uuid
    assert ("running" if domain.isActive() else "stopped") == power
    assert not marked or has_marker(host.path(f"{images}/{lab.name('m')}.qcow2"))


def test_a_stopped_vm_moves_to_the_other_host_and_back(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    a, b = two_hosts.a, two_hosts.b
    _vm(lab, images, a.local_uri, state="stopped")
    lab.up()
    write_marker(a.path(f"{images}/{lab.name('m')}.qcow2"))
    uuid = lab.outputs("m")["uuid"]
    macs = lab.outputs("m")["mac_addresses"]

    _vm(lab, images, b.ssh_uri, state="stopped")
    assert lab.harness().preview().ops() == {"m": "update"}
    assert lab.up().ops() == {"m": "update"}
    _holds_it(b, lab, images, uuid, "stopped")
    _holds_nothing(a, lab, images)
    outputs = lab.outputs("m")
    assert (outputs["uri"], outputs["uuid"], outputs["mac_addresses"]) == (b.ssh_uri, uuid, macs)
    assert lab.up().counts() == {"same": 1}

    _vm(lab, images, a.local_uri, state="stopped")
    assert lab.up().ops() == {"m": "update"}
    _holds_it(a, lab, images, uuid, "stopped")
    _holds_nothing(b, lab, images)
    assert lab.up().counts() == {"same": 1}


def test_a_running_vm_moves_live_over_ssh_with_one_connection_per_host(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    """Both ends over ``qemu+ssh://``: the move's ``up`` logs in once to each host (libvirt,
    SFTP and commands share the provider's one SSH connection per host; the migration is
    not peer-to-peer, so no libvirtd opens one of its own)."""
    a, b = two_hosts.a, two_hosts.b
    _vm(lab, images, a.ssh_uri, state="stopped")
    lab.up()
    write_marker(a.path(f"{images}/{lab.name('m')}.qcow2"))
    _vm(lab, images, a.ssh_uri, state="running")
    lab.up()
    uuid = lab.outputs("m")["uuid"]
    assert _domain(a, lab.name("m")).ID() > 0

    logins = {host.hostname: host.sshd.accepted_connections() for host in (a, b)}
    _vm(lab, images, b.ssh_uri, state="running")
    assert lab.up().ops() == {"m": "update"}
    made = {
        host.hostname: host.sshd.accepted_connections() - logins[host.hostname] for host in (a, b)
    }
    assert made == {a.hostname: 1, b.hostname: 1}, "SSH logins during the move, per host"

    _holds_it(b, lab, images, uuid, "running")
    _holds_nothing(a, lab, images)
    assert lab.outputs("m")["observed_state"] == "running"
    assert lab.up().counts() == {"same": 1}


def test_the_base_missing_on_the_target_is_refused_before_anything_moves(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    """A base of A's own (in A's images directory, which B lacks): the overlay cannot move."""
    a, b = two_hosts.a, two_hosts.b
    base = f"{images}/base-of-a.qcow2"
    a.path(images).mkdir(parents=True, exist_ok=True)
    qemu_img("create", "-q", "-f", "qcow2", str(a.path(base)), "64M")
    _vm(lab, images, a.local_uri, state="stopped", disk_path=base)
    lab.up()
    uuid = lab.outputs("m")["uuid"]

    _vm(lab, images, b.ssh_uri, state="stopped", disk_path=base)
    for result in (
        lab.harness(raise_on_error=False).preview(),
        lab.harness(raise_on_error=False).up(),
    ):
        said = "\n".join(str(e) for e in result.errors)
        assert "add a VigoBaseImage on that host" in said, said
    assert _domain(a, lab.name("m")).UUIDString() == uuid
    _holds_nothing(b, lab, images)


def _kill_b_during_the_copy(two_hosts: TwoHosts, name: str, done: threading.Event) -> None:
    """Kill B's libvirtd once A's domain runs a migration job that has moved bytes."""
    conn = _conn(two_hosts.a)
    while not done.wait(0.02):
        try:
            stats = conn.lookupByName(name).jobStats()
        except libvirt.libvirtError:
            continue
        if stats.get("type", 0) != libvirt.VIR_DOMAIN_JOB_NONE and stats.get(
            "disk_processed", 0
        ) + stats.get("memory_processed", 0):
            two_hosts.kill_libvirtd_b()
            return


def test_a_move_cut_off_by_the_target_dying_leaves_the_vm_running_at_the_source(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    """B's libvirtd killed while the disk is copied: the VM runs on at A, nothing of it is
    left on B once B is back, and the next up completes the move."""
    a, b = two_hosts.a, two_hosts.b
    _vm(lab, images, a.local_uri, state="stopped", disk_size_gib=2)
    lab.up()
    overlay = a.path(f"{images}/{lab.name('m')}.qcow2")
    write_marker(overlay)
    qemu_img_io(overlay, "write -P 0x5a 8M 768M")  # something to copy for a while
    _vm(lab, images, a.local_uri, state="running", disk_size_gib=2)
    lab.up()
    uuid = lab.outputs("m")["uuid"]

    _vm(lab, images, b.ssh_uri, state="running", disk_size_gib=2)
    done = threading.Event()
    killer = threading.Thread(target=_kill_b_during_the_copy, args=(two_hosts, lab.name("m"), done))
    killer.start()
    try:
        result = lab.harness(raise_on_error=False).up()
    finally:
        done.set()
        killer.join()
        two_hosts.start_libvirtd_b()
    said = "\n".join(str(e) for e in result.errors)
    assert "stays on" in said, said
    _holds_it(a, lab, images, uuid, "running")
    _holds_nothing(b, lab, images)
    assert lab.outputs("m")["uri"] == a.local_uri

    assert lab.up().ops() == {"m": "update"}
    _holds_it(b, lab, images, uuid, "running")
    _holds_nothing(a, lab, images)


def qemu_img_io(path: Path, command: str) -> None:
    """Write into a qcow2 as a guest would (qemu-io), the guest not running."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", command, str(path)], check=True, capture_output=True
    )


def test_a_leftover_of_ours_on_the_target_is_removed_and_a_foreign_file_refused(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    """A file at the VM's root path on B: with a sidecar naming this VM's claim and no domain
    using it (a failed move whose host went away), it is ours and the move goes on; without,
    it is refused and left as it is."""
    a, b = two_hosts.a, two_hosts.b
    _vm(lab, images, a.local_uri, state="stopped")
    lab.up()
    write_marker(a.path(f"{images}/{lab.name('m')}.qcow2"))
    uuid, claim = lab.outputs("m")["uuid"], lab.outputs("m")["claim"]
    stray = b.path(f"{images}/{lab.name('m')}.qcow2")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not a disk of this VM")

    _vm(lab, images, b.ssh_uri, state="stopped")
    result = lab.harness(raise_on_error=False).up()
    said = "\n".join(str(e) for e in result.errors)
    assert "is not this VM's: remove it there" in said, said
    assert stray.read_bytes() == b"not a disk of this VM"
    assert _domain(a, lab.name("m")).UUIDString() == uuid

    Path(f"{stray}.claim").write_text(claim + "\n")
    assert lab.up().ops() == {"m": "update"}
    _holds_it(b, lab, images, uuid, "stopped")
    assert not Path(f"{stray}.claim").exists()
    _holds_nothing(a, lab, images)


def test_an_efi_vm_s_nvram_travels_cold_and_live(
    lab: Lab, two_hosts: TwoHosts, images: str
) -> None:
    """qemu does not carry the UEFI variables' file: the move copies it first, to the same
    path; the source's goes with its domain. (A running guest's firmware rewrites its own
    variables at will, so only the stopped one's bytes are compared.)"""
    a, b = two_hosts.a, two_hosts.b
    nvram = f"{images}/{lab.name('m')}@VARS.fd"
    efi = {"firmware": "efi", "memory_mib": 256}
    _vm(lab, images, a.local_uri, state="running", **efi)
    lab.up()  # libvirt makes the variables' file from the template at the first start
    _vm(lab, images, a.local_uri, state="stopped", **efi)
    lab.up()
    a.path(nvram).write_bytes(a.path(nvram).read_bytes()[:-4] + b"VIGO")  # our variables
    size, uuid = a.path(nvram).stat().st_size, lab.outputs("m")["uuid"]

    _vm(lab, images, b.ssh_uri, state="stopped", **efi)
    assert lab.up().ops() == {"m": "update"}
    _holds_it(b, lab, images, uuid, "stopped", marked=False)
    assert b.path(nvram).read_bytes().endswith(b"VIGO")
    _holds_nothing(a, lab, images)

    _vm(lab, images, b.ssh_uri, state="running", **efi)
    lab.up()
    _vm(lab, images, a.local_uri, state="running", **efi)
    assert lab.up().ops() == {"m": "update"}
    _holds_it(a, lab, images, uuid, "running", marked=False)
    assert a.path(nvram).stat().st_size == size
    _holds_nothing(b, lab, images)
