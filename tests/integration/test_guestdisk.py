"""Data disks a guest writes, against a real libvirtd and real qemu-img, locally and over
qemu+ssh: a qcow2 is never attached as raw (the guest would own its header), and a path that
is no regular file (a FIFO) is refused at once, before anything is defined."""

from __future__ import annotations

import os
import time

import pytest
from support.disks import qemu_img
from support.lab import Lab

from pulumi_vigo_vm.testing import ProviderError

pytestmark = pytest.mark.libvirt

UP_BOUND_S = 30.0
"""A refused ``up``, the engine's start included (measured: 4.5-6 s here, over SSH too); a
FIFO read blocked it for minutes before."""


@pytest.mark.transport
def test_a_qcow2_declared_raw_is_refused_naming_the_entry_and_nothing_is_defined(
    lab: Lab,
) -> None:
    data = lab.root / "data.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "32M")
    before = data.read_bytes()
    lab.vm("a", state="defined", data_disks=[{"path": str(data), "format": "raw"}])

    with pytest.raises(ProviderError) as caught:
        lab.up()

    message = str(caught.value)
    assert "data_disks[0]" in message and str(data) in message
    assert "holds a qcow2 header but is declared raw" in message
    assert "Declare format 'qcow2'" in message, "the error names the fix"
    assert lab.domain("a") is None, "nothing is defined for a refused VM"
    assert data.read_bytes() == before


def test_a_vigodisk_attached_as_raw_is_refused_and_attached_as_qcow2_is_accepted(
    lab: Lab,
) -> None:
    lab.disk("data")
    lab.vm("a", state="defined", data_disks=[{"disk": "data", "format": "raw"}])

    with pytest.raises(ProviderError, match=r"data_disks\[0\] .* holds a qcow2 header"):
        lab.up()
    assert lab.domain("a") is None

    lab.vm("a", state="defined", data_disks=[{"disk": "data"}])
    lab.up()
    assert lab.domain("a") is not None


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.transport
def test_a_fifo_as_a_data_disk_is_refused_fast_naming_the_entry(lab: Lab, fmt: str) -> None:
    fifo = lab.root / "data.fifo"
    os.mkfifo(fifo)
    lab.vm("a", state="defined", data_disks=[{"path": str(fifo), "format": fmt}])

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        lab.up()
    assert time.monotonic() - started < UP_BOUND_S

    message = str(caught.value)
    assert f"data_disks[0] {fifo} is a FIFO, not a regular file" in message
    assert "UnsupportedOperation" not in message
    assert lab.domain("a") is None


def test_a_qcow2_declared_raw_added_to_an_existing_vm_is_refused_at_preview(lab: Lab) -> None:
    data = lab.root / "data.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "32M")
    lab.vm("a", state="defined")
    lab.up()
    lab.vm("a", state="defined", data_disks=[{"path": str(data), "format": "raw"}])

    with pytest.raises(ProviderError, match=r"data_disks\[0\] .* holds a qcow2 header"):
        lab.preview()
    with pytest.raises(ProviderError, match=r"data_disks\[0\] .* holds a qcow2 header"):
        lab.up()

    domain = lab.domain("a")
    assert domain is not None and str(data) not in domain.XMLDesc(), "the VM is left as it was"
