"""One booted guest carrying the tuning an operator sets (operations spec §4): a virtiofs
share, pinned vCPUs, memory on huge pages the test reserved. Nothing connects to the
guest: the share is proven by the guest printing, on its console, a token the test wrote
into the host directory; the pinning by ``virsh vcpuinfo``; the huge pages by the host's
own counters while the guest runs.

No host device here: a guest is never started with a real host PCI or USB device (see
tests/integration/test_tuning_host.py for what is proven of them without a start).
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.vm.tuning import pages_needed

from .support import Guest

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

MEMORY_MIB = 1024
PAGE_KIB = 2048
HUGEPAGES = Path(f"/sys/kernel/mm/hugepages/hugepages-{PAGE_KIB}kB")


def _pages(name: str) -> int:
    return int((HUGEPAGES / name).read_text())


@pytest.fixture(scope="module")
def reserved_hugepages() -> Iterator[int]:
    """Reserve the guest's 2 MiB pages on the host (echo N > nr_hugepages), and put the
    host's own count back after the module (after its guests are gone: requested before
    ``make_guest``, so torn down after it)."""
    before = _pages("nr_hugepages")
    wanted = before + pages_needed(MEMORY_MIB, PAGE_KIB)
    (HUGEPAGES / "nr_hugepages").write_text(f"{wanted}\n")
    try:
        if _pages("nr_hugepages") < wanted:
            pytest.fail(f"the host gave {_pages('nr_hugepages')} of {wanted} 2 MiB pages")
        yield wanted
    finally:
        (HUGEPAGES / "nr_hugepages").write_text(f"{before}\n")


def _user_data(token_file: str) -> str:
    return f"""#cloud-config
runcmd:
  - [sh, -c, "mkdir -p /mnt/share && mount -t virtiofs share /mnt/share"]
  - [sh, -c, "echo VIGO-SHARE $(cat /mnt/share/{token_file}) > /dev/ttyS0"]
"""


def _affinities(vm_name: str) -> list[str]:
    """The ``CPU Affinity`` of each vCPU, as ``virsh vcpuinfo`` prints it (``y-``...)."""
    shown = subprocess.run(
        ["virsh", "-c", "qemu:///system", "vcpuinfo", vm_name],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return re.findall(r"CPU Affinity:\s+(\S+)", shown)


def test_a_guest_reads_a_virtiofs_share_on_pinned_vcpus_and_huge_pages(
    reserved_hugepages: int, make_guest: Any
) -> None:
    guest: Guest = make_guest("e2e/tuning")
    share = Path(guest.lab.root) / "share"
    share.mkdir()
    share.chmod(0o755)
    token = secrets.token_hex(8)
    (share / "token").write_text(token + "\n")
    (share / "token").chmod(0o644)
    guest.declare(
        _user_data("token"),
        memory_mib=MEMORY_MIB,
        vcpu=2,
        network_bridge=None,
        filesystems=[{"source": str(share), "tag": "share"}],
        cpu_pinning=["1", "0"],
        hugepages=PAGE_KIB,
        state="running",
    )
    guest.up()

    assert guest.wait_for_boot_log(1, r"VIGO-SHARE (\S+)").group(1) == token
    assert _affinities(guest.name) == ["-y", "y-"], "vCPU 0 on CPU 1, vCPU 1 on CPU 0"
    in_use = reserved_hugepages - _pages("free_hugepages") + _pages("resv_hugepages")
    assert in_use >= pages_needed(MEMORY_MIB, PAGE_KIB), "the guest's memory is huge pages"
    outputs = guest.outputs()
    assert (outputs["hugepages"], outputs["cpu_pinning"]) == (PAGE_KIB, ["1", "0"])
    assert guest.lab.harness().preview().counts() == {"same": 1}
