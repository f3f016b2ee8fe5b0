"""VigoDisk's converge on an in-memory host: the refusal of a file that is not ours comes
after the sweep of a killed run's temporaries and touches nothing else.

The real part of the same behaviour is tests/disks/test_disk_lifecycle.py's
``test_a_file_already_at_the_path_that_is_not_ours_is_refused_and_left_intact`` and
``test_a_killed_creates_leftovers_are_swept_and_its_claim_taken_up`` (libvirtd, qemu-img and
real files through the engine); here the same converge runs on
:class:`~pulumi_vigo_vm.hosts.memory.MemoryHost`, with a hypervisor it never reaches (a call
to libvirt would fail the test: ``qemu:///nowhere`` is no driver).
"""

from __future__ import annotations

import time

import pytest

from pulumi_vigo_vm.disk.effects import converge
from pulumi_vigo_vm.disk.spec import DiskFormat, DiskSpec
from pulumi_vigo_vm.errors import NotOwnedError
from pulumi_vigo_vm.hostfile.claim import claim_path, encode_claim
from pulumi_vigo_vm.hosts.memory import MemoryHost
from pulumi_vigo_vm.virt.hypervisor import Hypervisor
from pulumi_vigo_vm.virt.target import Target

CLAIM = "org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoDisk::data"
OTHER = "org/urn:pulumi:prod::p::pulumi-python:dynamic/vigo:VigoDisk::data"
SPEC = DiskSpec("data", 1, DiskFormat.QCOW2, "qemu:///nowhere", "/srv/images", CLAIM)


@pytest.mark.parametrize("sidecar", [None, OTHER])
def test_a_file_that_is_not_ours_is_refused_after_the_sweep_and_left_intact(
    sidecar: str | None,
) -> None:
    host = MemoryHost()
    host.put(SPEC.path, b"somebody's data")
    if sidecar is not None:
        host.put(claim_path(SPEC.path), encode_claim(sidecar))
    stale = "/srv/images/disks/.data.qcow2.0123456789ab.tmp"
    fresh = "/srv/images/disks/.data.qcow2.ba9876543210.tmp"  # another run, still writing
    host.put(stale, b"half a disk")
    host.set_mtime(stale, time.time() - 7200)
    host.put(fresh)
    kept = sorted(set(host.paths()) - {stale})

    with pytest.raises(NotOwnedError, match=r"data\.qcow2 already exists.*never adopted"):
        converge(Target(host, Hypervisor(SPEC.uri)), SPEC)

    assert host.paths() == kept
    assert host.read(SPEC.path) == b"somebody's data"
