"""The hardware and tuning inputs (operations spec §4) against a real host: each is judged
at preview (the node device exists and no other domain has it, the CPUs and NUMA nodes
exist, enough huge pages are free, read-only virtiofs is possible), and a definition
carrying them reads back from libvirt as the inputs asked (the next preview is a no-op).

SAFETY: a VM here carrying a real host PCI device is ``state="defined"`` and never
started: managed passthrough would take the device from its host driver (on a test
machine, its disk or NIC). Every such test asserts the domain never ran.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import CheckFailedError
from pulumi_vigo_vm.virt.target import Target
from pulumi_vigo_vm.vm.hostfit import READONLY_VIRTIOFS_VERSION
from pulumi_vigo_vm.vm.observe_tuning import _virtiofsd

pytestmark = pytest.mark.libvirt


def _a_host_pci_address(conn: libvirt.virConnect) -> str:
    """A PCI function this host really has (the first libvirt lists), as 0000:00:03.0."""
    devices = conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)
    name = sorted(device.name() for device in devices)[-1]
    _pci, domain, bus, slot, function = name.split("_")
    return f"{domain}:{bus}:{slot}.{function}"


def _refused(lab: Lab) -> tuple[str, str]:
    """The one check failure of a preview (and an up refused the same way, having made
    nothing)."""
    with pytest.raises(CheckFailedError) as caught:
        lab.preview()
    (failure,) = caught.value.failures
    with pytest.raises(CheckFailedError):
        lab.up()
    assert lab.domains() == set() and lab.files() == set()
    return failure.property, failure.reason


@pytest.mark.parametrize(
    ("device", "fragment"),
    [
        ({"pci": "0000:3b:1f.7"}, "[0].pci 0000:3b:1f.7: no such PCI device on localhost"),
        ({"usb": "dead:beef"}, "[0].usb dead:beef: no USB device with that vendor:product"),
    ],
    ids=["pci", "usb"],
)
def test_a_host_device_the_host_lacks_fails_preview_naming_it(
    lab: Lab, device: dict[str, str], fragment: str
) -> None:
    lab.vm("a", state="defined", host_devices=[device])
    prop, reason = _refused(lab)
    assert prop == "host_devices" and fragment in reason, reason


def test_a_real_pci_device_is_defined_managed_never_started_and_refused_to_a_second_vm(
    lab: Lab,
) -> None:
    """The device exists (node-device lookup), so the VM is defined with it, managed; a
    second VM asking for it is refused at preview naming the first."""
    address = _a_host_pci_address(lab.conn)
    lab.vm("a", state="defined", host_devices=[{"pci": address.upper()}])
    lab.up()
    domain = lab.domain("a")
    assert domain is not None and not domain.isActive()
    hostdev = ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find("devices/hostdev")
    assert hostdev is not None and hostdev.attrib == {
        "mode": "subsystem",
        "type": "pci",
        "managed": "yes",
    }
    source = hostdev.find("source/address")
    assert source is not None
    domain_id, bus, rest = address.split(":")
    slot, function = rest.split(".")
    assert (source.get("domain"), source.get("bus"), source.get("slot")) == (
        f"0x{domain_id}",
        f"0x{bus}",
        f"0x{slot}",
    )
    assert source.get("function") == f"0x{function}"
    assert lab.outputs("a")["host_devices"] == [{"pci": address}]
    lab.assert_converged()

    lab.vm("b", state="defined", host_devices=[{"pci": address}])
    with pytest.raises(CheckFailedError) as caught:
        lab.preview()
    (failure,) = caught.value.failures
    assert failure.property == "host_devices"
    assert f"already passed through to {lab.name('a')}" in failure.reason
    assert lab.power("a") == "stopped"


@pytest.mark.parametrize(
    ("args", "prop", "fragment"),
    [
        ({"vcpu": 2, "cpu_pinning": ["0", "4090-4091"]}, "cpu_pinning", "[1] '4090-4091' names"),
        ({"numa": {"mode": "strict", "nodeset": "7"}}, "numa", "NUMA node 7, which localhost"),
        (
            {"hugepages": 2048, "memory_mib": 1048576},
            "hugepages",
            "1048576 MiB of guest memory needs 524288 free 2048 KiB pages, and ",
        ),
        ({"hugepages": 4096}, "hugepages", "4096 KiB is not a page size of the host"),
    ],
    ids=["cpu", "numa", "free-pages", "page-size"],
)
def test_tuning_the_host_cannot_give_fails_preview_naming_it(
    lab: Lab, args: dict[str, object], prop: str, fragment: str
) -> None:
    lab.vm("a", state="defined", **args)
    found, reason = _refused(lab)
    assert found == prop and fragment in reason, reason


def test_a_read_only_share_is_refused_exactly_where_libvirt_cannot_run_one(
    lab: Lab, tmp_path: Path
) -> None:
    lab.vm(
        "a",
        state="defined",
        filesystems=[{"source": str(tmp_path), "tag": "ro", "readonly": True}],
    )
    if lab.conn.getLibVersion() >= READONLY_VIRTIOFS_VERSION:
        lab.up()
        lab.assert_converged()
        return
    prop, reason = _refused(lab)
    assert prop == "filesystems" and "[0].readonly: libvirt" in reason, reason
    assert "cannot share a directory read-only over virtiofs (libvirt 11.0 can)" in reason


@pytest.mark.transport
def test_virtiofsd_is_found_where_libvirt_finds_it_over_either_transport(uri: str) -> None:
    """The vhost-user descriptor of type fs the host has (qemu's, or the virtiofsd
    package's) names the binary libvirt runs; over qemu+ssh it is read on that host."""
    binary = _virtiofsd(Target.for_uri(uri))
    assert binary is not None and Path(binary).is_file()


@pytest.mark.transport
def test_a_share_source_is_looked_for_on_the_host_over_either_transport(lab: Lab) -> None:
    lab.vm("a", state="defined", filesystems=[{"source": "/nonexistent/vigo-share", "tag": "s"}])
    prop, reason = _refused(lab)
    assert prop == "filesystems" and "[0].source /nonexistent/vigo-share is no directory" in reason


def test_a_tuned_vm_is_defined_as_asked_and_reads_back_with_no_diff(
    lab: Lab, tmp_path: Path
) -> None:
    """virtiofs (with its shared memory), pinning, NUMA and I/O threads as libvirt keeps
    them: the second preview is a no-op, and dropping them is an update that removes
    them."""
    tuned = {
        "vcpu": 2,
        "cpu_pinning": ["0", "0,1"],
        "numa": {"mode": "strict", "nodeset": "0"},
        "iothreads": 2,
        "filesystems": [{"source": str(tmp_path), "tag": "share"}],
        "data_disks": [{"disk": "d", "iothread": 2}],
    }
    lab.disk("d")
    lab.vm("a", state="defined", **tuned)
    lab.up()
    assert lab.preview().counts() == {"same": 2}, "as libvirt keeps it: no diff"
    domain = lab.domain("a")
    assert domain is not None
    root = ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert [(p.get("vcpu"), p.get("cpuset")) for p in root.iterfind("cputune/vcpupin")] == [
        ("0", "0"),
        ("1", "0-1"),
    ]
    assert root.findtext("iothreads") == "2"
    data = [d for d in root.iterfind("devices/disk") if d.find("target").get("dev") == "vdb"]  # type: ignore[union-attr]
    assert [d.find("driver").get("iothread") for d in data] == ["2"]  # type: ignore[union-attr]
    assert root.find("memoryBacking/access").get("mode") == "shared"  # type: ignore[union-attr]
    assert root.find("devices/filesystem/target").get("dir") == "share"  # type: ignore[union-attr]
    assert lab.outputs("a")["cpu_pinning"] == ["0", "0-1"]

    lab.vm("a", state="defined", vcpu=2, data_disks=[{"disk": "d"}])
    lab.up()
    assert lab.preview().counts() == {"same": 2}, "as libvirt keeps it: no diff"
    root = ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    gone = ("cputune", "numatune", "iothreads", "memoryBacking", "devices/filesystem")
    assert [tag for tag in gone if root.find(tag) is not None] == []
