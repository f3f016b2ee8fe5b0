"""domain_xml: to_xml read back as a tree, from_xml of libvirt's own XML, and round trips."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_vigo_vm.vm.changes import boot_relevant
from pulumi_vigo_vm.vm.domain_xml import (
    MARKER_NAMESPACE,
    DiskDevice,
    DomainConfig,
    NicDevice,
    NicLink,
    from_xml,
    marker_xml,
    nic_links,
    to_xml,
    with_unmodelled,
)

DATA = Path(__file__).parent / "data"
REGEN = os.environ.get("VIGO_REGEN_XML") == "1"

FULL = DomainConfig(
    name="web01",
    uuid="6f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f",
    memory_mib=4096,
    vcpu=4,
    domain_type="kvm",
    overlay_path="/var/lib/libvirt/images/web01.qcow2",
    seed_iso_path="/var/lib/libvirt/images/web01-seed-0123abcd.iso",
    console_log_path="/var/log/libvirt/qemu/web01-console.log",
    nics=(NicDevice("bridge", "br0", "52:54:00:12:34:56"),),
)
FULL_AS_LIBVIRT = replace(FULL, arch="x86_64", machine="pc-q35-8.2", cpu_mode="custom:qemu64")
"""FULL as libvirt reports it: it fills in what a definition of the previous release left to
it (the host's arch, the machine pinned, its default CPU)."""
MINIMAL = DomainConfig(
    name="ci-1",
    uuid="00000000-0000-4000-8000-000000000001",
    memory_mib=256,
    vcpu=1,
    domain_type="qemu",
    overlay_path="/srv/vms/ci-1.qcow2",
)
CLAIM = "organization/urn:pulumi:dev::proj::pulumi-python:dynamic/vigo:VigoVm::web01"
MINIMAL_CLAIM = "o/urn:pulumi:ci::proj::pulumi-python:dynamic/vigo:VigoVm::ci-1"
CLAIMS = {FULL.name: CLAIM, MINIMAL.name: MINIMAL_CLAIM}
MARKER_TAG = f"{{{MARKER_NAMESPACE}}}vm"


def tree(config: DomainConfig) -> ET.Element:
    return ET.fromstring(to_xml(config, CLAIMS.get(config.name, CLAIM)))


def disk(root: ET.Element, device: str) -> ET.Element:
    disks = [d for d in root.findall("devices/disk") if d.get("device") == device]
    assert len(disks) == 1, disks
    return disks[0]


# --- structure ---


def test_domain_element_carries_type_name_uuid_memory_and_vcpu() -> None:
    root = tree(FULL)
    assert root.tag == "domain"
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "web01"
    assert root.findtext("uuid") == FULL.uuid
    memory = root.find("memory")
    assert memory is not None
    assert (memory.text, memory.get("unit")) == ("4096", "MiB")
    assert root.findtext("vcpu") == "4"


def test_qemu_domain_type_is_rendered() -> None:
    assert tree(MINIMAL).get("type") == "qemu"


def test_overlay_is_a_virtio_qcow2_disk_vda() -> None:
    overlay = disk(tree(FULL), "disk")
    assert overlay.get("type") == "file"
    assert overlay.find("driver").get("type") == "qcow2"
    assert overlay.find("source").get("file") == FULL.overlay_path
    target = overlay.find("target")
    assert (target.get("dev"), target.get("bus")) == ("vda", "virtio")


def test_seed_is_a_read_only_scsi_cdrom_sda_on_a_virtio_scsi_controller() -> None:
    root = tree(FULL)
    cdrom = disk(root, "cdrom")
    assert cdrom.find("source").get("file") == FULL.seed_iso_path
    target = cdrom.find("target")
    assert (target.get("dev"), target.get("bus")) == ("sda", "scsi")
    assert cdrom.find("readonly") is not None
    controllers = [c for c in root.findall("devices/controller") if c.get("type") == "scsi"]
    assert [c.get("model") for c in controllers] == ["virtio-scsi"]


def test_no_seed_means_no_cdrom() -> None:
    root = tree(MINIMAL)
    assert [d.get("device") for d in root.findall("devices/disk")] == ["disk"]


def test_bridge_gives_one_virtio_interface_with_the_mac() -> None:
    interfaces = tree(FULL).findall("devices/interface")
    assert len(interfaces) == 1
    interface = interfaces[0]
    assert interface.get("type") == "bridge"
    assert interface.find("source").get("bridge") == "br0"
    assert interface.find("mac").get("address") == "52:54:00:12:34:56"
    assert interface.find("model").get("type") == "virtio"


def test_no_bridge_means_no_interface() -> None:
    assert tree(MINIMAL).findall("devices/interface") == []


def test_serial_and_console_are_ptys_on_port_0() -> None:
    root = tree(FULL)
    serial, console = root.find("devices/serial"), root.find("devices/console")
    assert serial is not None and console is not None
    assert serial.get("type") == "pty"
    assert serial.find("target").get("port") == "0"
    assert serial.find("log").get("file") == FULL.console_log_path
    assert console.get("type") == "pty"
    assert console.find("target").get("type") == "serial"


def test_ownership_marker_sits_in_metadata_in_the_marker_namespace() -> None:
    metadata = tree(FULL).find("metadata")
    assert metadata is not None
    assert [child.tag for child in metadata] == [MARKER_TAG]


def test_ownership_marker_names_the_claim() -> None:
    marker = tree(FULL).find(f"metadata/{MARKER_TAG}")
    assert marker is not None
    assert marker.attrib == {"managed-by": "pulumi_vigo_vm", "claim": CLAIM}


def test_marker_xml_is_the_marker_element_alone_without_its_namespace() -> None:
    """virDomainSetMetadata is given the namespace separately and applies it itself."""
    marker = ET.fromstring(marker_xml(CLAIM))
    assert marker.tag == "vm"
    assert marker.attrib == {"managed-by": "pulumi_vigo_vm", "claim": CLAIM}
    assert list(marker) == []
    assert "xmlns" not in marker_xml(CLAIM)


def test_marker_xml_is_the_element_to_xml_writes_once_put_in_the_namespace() -> None:
    in_domain = tree(FULL).find(f"metadata/{MARKER_TAG}")
    assert in_domain is not None
    alone = ET.fromstring(marker_xml(CLAIM))
    assert (f"{{{MARKER_NAMESPACE}}}{alone.tag}", alone.attrib) == (
        in_domain.tag,
        in_domain.attrib,
    )


# --- expected output files ---

GOLDEN = {"domain_full.xml": FULL, "domain_minimal.xml": MINIMAL}


def canonical(xml_text: str) -> str:
    return ET.canonicalize(xml_data=xml_text, strip_text=True)


@pytest.mark.parametrize(("file_name", "config"), GOLDEN.items(), ids=GOLDEN)
def test_to_xml_matches_the_expected_output_file(file_name: str, config: DomainConfig) -> None:
    """Regenerate with VIGO_REGEN_XML=1 after an intended change, then review the diff."""
    path = DATA / file_name
    claim = CLAIMS[config.name]
    if REGEN:
        element = ET.fromstring(to_xml(config, claim))
        ET.indent(element)
        path.write_text(ET.tostring(element, encoding="unicode") + "\n")
    assert canonical(to_xml(config, claim)) == canonical(path.read_text())


# --- from_xml ---

LIBVIRT_XML = """<domain type='kvm' id='3'>
  <name>web01</name>
  <uuid>6f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f</uuid>
  <metadata>
    <vigo:vm xmlns:vigo="urn:pulumi-vigo-vm:domain:1" managed-by="pulumi_vigo_vm"/>
  </metadata>
  <memory unit='{unit}'>{amount}</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <resource><partition>/machine</partition></resource>
  <os><type arch='x86_64' machine='pc-q35-8.2'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact' check='full'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web01.qcow2' index='2'/>
      <backingStore type='file' index='3'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/base.qcow2'/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/web01-seed-0123abcd.iso' index='1'/>
      <backingStore/>
      <target dev='sda' bus='scsi'/>
      <readonly/>
      <alias name='scsi0-0-0-0'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='scsi' index='0' model='virtio-scsi'><alias name='scsi0'/></controller>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
    <interface type='bridge'>
      <mac address='52:54:00:12:34:56'/>
      <source bridge='br0'/>
      <target dev='vnet2'/>
      <model type='virtio'/>
      <alias name='net0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <log file='/var/log/libvirt/qemu/web01-console.log' append='on'/>
      <target type='isa-serial' port='0'><model name='isa-serial'/></target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <target type='serial' port='0'/>
    </console>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='rng0'/>
    </rng>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'/>
</domain>
"""


@pytest.mark.parametrize(
    ("unit", "amount"),
    [
        ("KiB", 4194304),
        ("k", 4194304),
        ("MiB", 4096),
        ("M", 4096),
        ("GiB", 4),
        ("G", 4),
        ("bytes", 4 * 1024**3),
        ("b", 4 * 1024**3),
    ],
)
def test_from_xml_reads_libvirt_xml_converting_memory_units(unit: str, amount: int) -> None:
    live = from_xml(LIBVIRT_XML.format(unit=unit, amount=amount))
    assert live.marked
    assert live.config == FULL_AS_LIBVIRT


def test_marker_of_the_previous_release_is_marked_without_a_claim() -> None:
    live = from_xml(LIBVIRT_XML.format(unit="KiB", amount=4194304))
    assert (live.marked, live.claim) == (True, None)


def test_marker_with_a_claim_is_read_back_with_it() -> None:
    old_marker = 'managed-by="pulumi_vigo_vm"/>'
    text = LIBVIRT_XML.format(unit="KiB", amount=4194304)
    assert old_marker in text
    live = from_xml(text.replace(old_marker, f'managed-by="pulumi_vigo_vm" claim="{CLAIM}"/>'))
    assert (live.marked, live.claim) == (True, CLAIM)
    assert live.config == FULL_AS_LIBVIRT


@pytest.mark.parametrize(("unit", "amount", "mib"), [("TiB", 2, 2 * 1024**2), ("T", 1, 1024**2)])
def test_from_xml_converts_tebibytes(unit: str, amount: int, mib: int) -> None:
    """``<memory>`` is the maximum (``<currentMemory>``, the fixture's 4 GiB, the current)."""
    assert from_xml(LIBVIRT_XML.format(unit=unit, amount=amount)).config.max_memory_mib == mib


def test_memory_without_unit_is_kib() -> None:
    text = LIBVIRT_XML.format(unit="KiB", amount=2097152).replace(" unit='KiB'>2097152", ">2097152")
    assert from_xml(text).config.max_memory_mib == 2048


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "<metadata/>",
        "<metadata><other:vm xmlns:other='urn:someone-else'/></metadata>",
        "<metadata><vm managed-by='pulumi_vigo_vm'/></metadata>",
    ],
    ids=["no-metadata", "empty", "foreign-namespace", "no-namespace"],
)
def test_domain_without_our_marker_is_not_owned(metadata: str) -> None:
    original = LIBVIRT_XML.format(unit="KiB", amount=4194304)
    start, end = original.index("<metadata>"), original.index("</metadata>") + len("</metadata>")
    live = from_xml(original[:start] + metadata + original[end:])
    assert (live.marked, live.claim) == (False, None)
    assert live.config == FULL_AS_LIBVIRT


def test_claim_attribute_outside_our_namespace_claims_nothing() -> None:
    original = LIBVIRT_XML.format(unit="KiB", amount=4194304)
    start, end = original.index("<metadata>"), original.index("</metadata>") + len("</metadata>")
    foreign = f"<metadata><o:vm xmlns:o='urn:someone-else' claim='{CLAIM}'/></metadata>"
    live = from_xml(original[:start] + foreign + original[end:])
    assert (live.marked, live.claim) == (False, None)


def test_to_xml_output_is_marked_with_its_claim_when_read_back() -> None:
    live = from_xml(to_xml(FULL, CLAIM))
    assert (live.marked, live.claim) == (True, CLAIM)


# --- round trips and escaping ---

SAFE_TEXT = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\ufffe\uffff"),
    min_size=1,
    max_size=40,
)
PATH = SAFE_TEXT.map(lambda s: "/" + s)


@st.composite
def configs(draw: st.DrawFn) -> DomainConfig:
    bridge = draw(st.none() | SAFE_TEXT)
    return DomainConfig(
        name=draw(SAFE_TEXT),
        uuid=draw(st.uuids().map(str)),
        memory_mib=draw(st.integers(1, 16 * 1024 * 1024)),
        vcpu=draw(st.integers(1, 4096)),
        domain_type=draw(st.sampled_from(["kvm", "qemu"])),
        overlay_path=draw(PATH),
        seed_iso_path=draw(st.none() | PATH),
        console_log_path=draw(st.none() | PATH),
        nics=()
        if bridge is None
        else (NicDevice("bridge", bridge, draw(st.none() | st.just("52:54:00:ab:cd:ef"))),),
    )


@settings(max_examples=200)
@given(configs())
def test_from_xml_of_to_xml_is_the_same_config(config: DomainConfig) -> None:
    assert from_xml(to_xml(config, CLAIM)).config == config


@settings(max_examples=200)
@given(SAFE_TEXT)
def test_any_claim_survives_to_xml_and_marker_xml(claim: str) -> None:
    live = from_xml(to_xml(FULL, claim))
    assert (live.marked, live.claim, live.config) == (True, claim, FULL)
    assert ET.fromstring(marker_xml(claim)).get("claim") == claim


INJECTIONS = [
    "/x'/><disk type='file' device='cdrom'><source file='/etc/shadow'/></disk><x a='",
    '/x"/><interface type="network"><source network="default"/></interface><x a="',
    "/a&b<c>d&amp;e&lt;.qcow2",
    "/]]><!--<evil/>-->",
]


@pytest.mark.parametrize("path", INJECTIONS)
def test_xml_metacharacters_in_paths_survive_and_inject_nothing(path: str) -> None:
    config = DomainConfig(
        name="web01",
        uuid=FULL.uuid,
        memory_mib=1024,
        vcpu=1,
        domain_type="kvm",
        overlay_path=path,
        seed_iso_path=path + ".iso",
        console_log_path=path + ".log",
        nics=FULL.nics,
    )
    root = tree(config)
    assert [d.get("device") for d in root.findall("devices/disk")] == ["disk", "cdrom"]
    assert len(root.findall("devices/interface")) == 1
    assert [child.tag for child in root.iter() if "evil" in child.tag] == []
    assert from_xml(to_xml(config, CLAIM)).config == config


@pytest.mark.parametrize("claim", INJECTIONS)
def test_xml_metacharacters_in_the_claim_survive_and_inject_nothing(claim: str) -> None:
    root = ET.fromstring(to_xml(FULL, claim))
    assert [d.get("device") for d in root.findall("devices/disk")] == ["disk", "cdrom"]
    assert len(root.findall("devices/interface")) == 1
    metadata = root.find("metadata")
    assert metadata is not None and [child.tag for child in metadata] == [MARKER_TAG]
    assert from_xml(to_xml(FULL, claim)).claim == claim
    marker = ET.fromstring(marker_xml(claim))
    assert (list(marker), marker.get("claim")) == ([], claim)


# --- what a restart is worth ---


def test_boot_relevant_ignores_the_uuid_and_the_console_log_name() -> None:
    moved_log = replace(FULL, uuid="other", console_log_path="/var/log/libvirt/vigo/x.log")
    assert boot_relevant(moved_log) == boot_relevant(FULL)
    assert moved_log.structural() != FULL.structural()


@pytest.mark.parametrize(
    "changes",
    [
        {"memory_mib": 1},
        {"vcpu": 9},
        {"domain_type": "qemu"},
        {"overlay_path": "/x.qcow2"},
        {"seed_iso_path": None},
        {"nics": (NicDevice("bridge", "br9", "52:54:00:12:34:56"),)},
        {"nics": (NicDevice("bridge", "br0", "52:54:00:12:34:57"),)},
        {"data_disks": (DiskDevice("/srv/data.qcow2", "vdb"),)},
    ],
    ids=["memory", "vcpu", "domain_type", "overlay", "seed", "nic-source", "nic-mac", "disk"],
)
def test_boot_relevant_sees_every_other_structural_field(changes: dict[str, Any]) -> None:
    assert boot_relevant(replace(FULL, **changes)) != boot_relevant(FULL)


def test_nic_links_name_the_bridge_each_nic_is_a_port_of() -> None:
    """A running domain's network NIC carries its network's bridge; a bridge NIC its own;
    a macvtap NIC none."""
    live = """<domain><devices>
      <interface type='network'><mac address='52:54:00:AA:00:01'/>
        <source network='lab' portid='x' bridge='virbr3'/><target dev='vnet0'/></interface>
      <interface type='bridge'><mac address='52:54:00:aa:00:02'/>
        <source bridge='br0'/><target dev='vnet1'/></interface>
      <interface type='direct'><mac address='52:54:00:aa:00:03'/>
        <source dev='eth0' mode='bridge'/></interface>
      <interface type='network'><source network='lab'/></interface>
    </devices></domain>"""
    assert nic_links(live) == (
        NicLink("52:54:00:aa:00:01", "lab", "virbr3"),
        NicLink("52:54:00:aa:00:02", None, "br0"),
        NicLink("52:54:00:aa:00:03", None, None),
    )


# --- devices the package does not model ---

UNMODELLED = """
  <graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>
  <video><model type='vga' vram='16384' heads='1' primary='yes'/></video>
  <input type='tablet' bus='usb'/>
  <disk type='file' device='cdrom'>
    <driver name='qemu' type='raw'/><source file='/srv/iso/installer.iso'/>
    <target dev='hdc' bus='ide'/><readonly/>
  </disk>
  <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
  <memballoon model='none'/>
"""
LIBOSINFO = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
"""virt-install's metadata namespace."""
MODELLED = """
  <interface type='network'>
    <mac address='52:54:00:aa:bb:cc'/><source network='default'/>
  </interface>
  <disk type='file' device='disk'><source file='/srv/extra.qcow2'/><target dev='vdz'/></disk>
  <controller type='usb' index='0' model='qemu-xhci'/>
"""


def _edited(config: DomainConfig, devices: str, top: str = "") -> str:
    """``config``'s definition after an operator's ``virsh edit`` added ``devices`` and the
    top-level elements ``top``."""
    text = to_xml(config, CLAIM)
    text = text.replace("</devices>", devices + "</devices>")
    extra = f"<libosinfo:libosinfo xmlns:libosinfo='{LIBOSINFO}'/>"
    text = text.replace("</metadata>", extra + "</metadata>")
    text = text.replace("</features>", "<vmport state='off'/></features>")
    return text.replace("<devices>", top + "<devices>")


def test_a_redefine_keeps_every_device_of_a_kind_the_package_does_not_model() -> None:
    top = "<clock offset='utc'><timer name='rtc'/></clock><pm><suspend-to-mem enabled='no'/></pm>"
    live = _edited(FULL, UNMODELLED, top)
    changed = replace(FULL, memory_mib=8192)

    merged = ET.fromstring(with_unmodelled(to_xml(changed, CLAIM), live))

    assert merged.find("devices/graphics[@type='vnc']") is not None
    assert merged.find("devices/video/model[@type='vga']") is not None
    assert merged.find("devices/input[@type='tablet']") is not None
    assert merged.find("devices/disk/source[@file='/srv/iso/installer.iso']") is not None
    assert merged.find("devices/channel/target[@name='com.redhat.spice.0']") is not None
    assert merged.find("devices/memballoon[@model='none']") is not None
    assert merged.find("features/vmport") is not None
    assert merged.find("clock/timer[@name='rtc']") is not None
    assert merged.find("pm/suspend-to-mem") is not None
    assert merged.find(f"metadata/{{{LIBOSINFO}}}libosinfo") is not None
    assert len(merged.findall(f"metadata/{MARKER_TAG}")) == 1
    # What the package models is the new definition's alone, so none of it is drift. The
    # display reads back, but with no graphics input it is not the package's: the plan
    # carries it over as it is (tests/unit/test_hardware.py).
    read = from_xml(ET.tostring(merged, encoding="unicode")).config
    assert read.graphics is not None and read.graphics.type == "vnc"
    assert replace(read, graphics=None) == changed


def test_a_redefine_replaces_what_the_package_models() -> None:
    """A NIC or disk the inputs do not declare is drift, not kept; libvirt derives the
    controllers again from the devices."""
    live = _edited(FULL, MODELLED)

    merged = with_unmodelled(to_xml(FULL, CLAIM), live)

    assert from_xml(merged).config == FULL
    assert "qemu-xhci" not in merged
    assert "vdz" not in merged


def test_a_cdrom_outside_the_seed_slot_is_no_seed() -> None:
    live = _edited(replace(FULL, seed_iso_path=None), UNMODELLED)
    assert from_xml(live).config.seed_iso_path is None
    assert from_xml(_edited(FULL, UNMODELLED)).config.seed_iso_path == FULL.seed_iso_path
