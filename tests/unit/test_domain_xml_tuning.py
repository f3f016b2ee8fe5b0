"""The hardware and tuning of a definition (operations spec §4) in domain_xml: the expected
output file, what libvirt writes back, round trips, and what a redefine keeps of an
operator's own tuning."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_vigo_vm.vm.domain_xml import (
    DiskDevice,
    from_xml,
    host_devices_of,
    to_xml,
    with_live_addresses,
    with_unmodelled,
)
from pulumi_vigo_vm.vm.tuning import Filesystem, HostDevice, Numa, NumaMode, format_cpu_set

from .test_domain_xml import CLAIM, DATA, FULL, REGEN, canonical

TUNED = replace(
    FULL,
    vcpu=2,
    iothreads=2,
    data_disks=(DiskDevice("/srv/disks/db.qcow2", "vdb", serial="db", iothread=1),),
    host_devices=(HostDevice("pci", "0000:3b:00.0"), HostDevice("usb", "046d:c52b")),
    filesystems=(Filesystem("/srv/share", "share"), Filesystem("/srv/ro", "ro", True)),
    cpu_pinning=("2", "3-4"),
    numa=Numa(NumaMode.STRICT, "0-1"),
    hugepages=2048,
)


def test_to_xml_of_a_tuned_vm_matches_the_expected_output_file() -> None:
    """Regenerate with VIGO_REGEN_XML=1 after an intended change, then review the diff."""
    path = DATA / "domain_tuning.xml"
    if REGEN:
        element = ET.fromstring(to_xml(TUNED, CLAIM))
        ET.indent(element)
        path.write_text(ET.tostring(element, encoding="unicode") + "\n")
    assert canonical(to_xml(TUNED, CLAIM)) == canonical(path.read_text())


def test_virtiofs_brings_shared_memory_and_hugepages_without_a_size_are_the_default() -> None:
    root = ET.fromstring(to_xml(replace(TUNED, hugepages=True), CLAIM))
    backing = root.find("memoryBacking")
    assert backing is not None
    assert [child.tag for child in backing] == ["hugepages", "source", "access"]
    assert list(backing.find("hugepages") or []) == []
    assert from_xml(ET.tostring(root, encoding="unicode")).config.hugepages is True
    alone = ET.fromstring(to_xml(replace(TUNED, filesystems=(), hugepages=False), CLAIM))
    assert alone.find("memoryBacking") is None


LIBVIRT_TUNED = """<domain type='kvm'>
  <name>web01</name><uuid>6f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f</uuid>
  <memory unit='KiB'>4194304</memory>
  <memoryBacking><hugepages><page size='2' unit='M'/></hugepages><source type='memfd'/>
    <access mode='shared'/></memoryBacking>
  <vcpu placement='static'>2</vcpu>
  <iothreads>2</iothreads>
  <cputune><vcpupin vcpu='1' cpuset='3-4'/><vcpupin vcpu='0' cpuset='2'/>
    <emulatorpin cpuset='0'/></cputune>
  <numatune><memory mode='strict' nodeset='0-1'/><memnode cellid='0' mode='strict' nodeset='0'/>
  </numatune>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web01.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source>
      <alias name='hostdev0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source startupPolicy='optional'><vendor id='0x046d'/><product id='0xc52b'/>
        <address bus='1' device='4'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>
      <address bus='0' target='0' unit='0'/></source></hostdev>
    <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
      <binary path='/usr/lib/qemu/virtiofsd'/>
      <source dir='/srv/share'/><target dir='share'/></filesystem>
    <filesystem type='mount' accessmode='mapped'><driver type='path'/>
      <source dir='/srv/9p'/><target dir='ninep'/></filesystem>
  </devices>
</domain>"""


def test_from_xml_reads_tuning_as_libvirt_writes_it() -> None:
    """Units, vCPU order, a running USB device's bus address and virtiofsd's binary path
    do not matter; a SCSI host device and a 9p share are no input of ours."""
    config = from_xml(LIBVIRT_TUNED).config
    assert config.hugepages == 2048
    assert config.iothreads == 2
    assert config.cpu_pinning == ("2", "3-4")
    assert config.numa == Numa(NumaMode.STRICT, "0-1")
    assert config.host_devices == (
        HostDevice("pci", "0000:3b:00.0"),
        HostDevice("usb", "046d:c52b"),
    )
    assert config.filesystems == (Filesystem("/srv/share", "share"),)
    assert host_devices_of(LIBVIRT_TUNED) == config.host_devices


def test_a_redefine_keeps_the_operator_s_own_tuning_and_replaces_ours() -> None:
    """An operator's ``<emulatorpin>``, ``<memnode>``, a SCSI host device and a 9p share
    stay; the pinning, policy, huge pages, host devices and shares are the inputs' alone."""
    wanted = replace(TUNED, cpu_pinning=(), numa=None, hugepages=False, filesystems=())
    merged = ET.fromstring(with_unmodelled(to_xml(wanted, CLAIM), LIBVIRT_TUNED))
    assert merged.find("cputune/emulatorpin") is not None
    assert merged.find("cputune/vcpupin") is None
    assert merged.find("numatune/memnode") is not None
    assert merged.find("numatune/memory") is None
    assert merged.find("memoryBacking") is None
    assert merged.find("devices/hostdev[@type='scsi']") is not None
    assert merged.find("devices/filesystem/driver[@type='path']") is not None
    assert from_xml(ET.tostring(merged, encoding="unicode")).config == wanted


def test_a_host_device_keeps_its_guest_pci_slot_across_a_redefine() -> None:
    merged = ET.fromstring(with_live_addresses(to_xml(TUNED, CLAIM), LIBVIRT_TUNED))
    pci = merged.find("devices/hostdev[@type='pci']/address")
    assert pci is not None and pci.get("slot") == "0x06"


def test_a_definition_of_the_previous_release_has_no_tuning() -> None:
    config = from_xml(to_xml(FULL, CLAIM)).config
    assert config == FULL
    assert (config.host_devices, config.filesystems, config.cpu_pinning) == ((), (), ())
    assert (config.numa, config.hugepages, config.iothreads) == (None, False, None)


CPU_SETS = st.frozensets(st.integers(0, 300), min_size=1, max_size=12).map(format_cpu_set)
TAGS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,35}", fullmatch=True)


@settings(max_examples=150)
@given(
    pins=st.lists(CPU_SETS, max_size=6).map(tuple),
    nodeset=st.none() | CPU_SETS,
    mode=st.sampled_from(list(NumaMode)),
    hugepages=st.sampled_from([False, True, 2048, 1048576]),
    iothreads=st.none() | st.integers(1, 64),
    pci=st.lists(st.integers(0, 0xFF), max_size=3, unique=True),
    usb=st.lists(st.integers(0, 0xFFFF), max_size=3, unique=True),
    tags=st.lists(TAGS, max_size=3, unique=True),
)
def test_from_xml_of_to_xml_is_the_same_tuning(
    pins: tuple[str, ...],
    nodeset: str | None,
    mode: NumaMode,
    hugepages: bool | int,
    iothreads: int | None,
    pci: list[int],
    usb: list[int],
    tags: list[str],
) -> None:
    config = replace(
        FULL,
        cpu_pinning=pins,
        numa=None if nodeset is None else Numa(mode, nodeset),
        hugepages=hugepages,
        iothreads=iothreads,
        host_devices=tuple(HostDevice("pci", f"0000:{b:02x}:1f.7") for b in pci)
        + tuple(HostDevice("usb", f"{v:04x}:0001") for v in usb),
        filesystems=tuple(Filesystem(f"/srv/{t}", t, len(t) % 2 == 0) for t in tags),
    )
    assert from_xml(to_xml(config, CLAIM)).config == config
