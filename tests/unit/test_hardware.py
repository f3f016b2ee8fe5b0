"""The tuning and devices an operator sets (operations spec §4): macvtap, VLAN and bandwidth
per NIC, cache/io/IO limits per disk and on the root, the RNG, a watchdog, a display and the
boot order: refused at check naming the input and the fix, rendered into the definition and
read back (a golden file), and what a VM of the previous release gets from them (nothing)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.axes import desired_domain, diff, refuse_nic_sources
from pulumi_vigo_vm.vm.devices import Nic, data_disks, nics
from pulumi_vigo_vm.vm.domain_xml import (
    DiskDevice,
    DiskTune,
    DomainConfig,
    GraphicsDevice,
    NicDevice,
    WatchdogDevice,
    from_xml,
    to_xml,
    with_unmodelled,
)
from pulumi_vigo_vm.vm.fields import input_field
from pulumi_vigo_vm.vm.hardware import Watchdog, WatchdogModel
from pulumi_vigo_vm.vm.model import NicSource
from pulumi_vigo_vm.vm.spec import check_inputs, parse_spec

from ._values import CLAIM, IDENTITY, VALID_PROPS, converged, make_base, make_recorded, make_spec

DATA = Path(__file__).parent / "data"
REGEN = os.environ.get("VIGO_REGEN_XML") == "1"
DEFAULTS = ProviderDefaults()

HARDWARE = DomainConfig(
    name="db01",
    uuid="0f3e2d1c-4b5a-4978-8c6d-5e4f3a2b1c0d",
    memory_mib=2048,
    vcpu=2,
    domain_type="kvm",
    overlay_path="/var/lib/libvirt/images/db01.qcow2",
    machine="q35",
    nics=(
        NicDevice("direct", "eth0", "52:54:00:00:00:01", mode="bridge", inbound=1000),
        NicDevice("network", "ovs-trunk", "52:54:00:00:00:02", vlan=42, outbound=2000),
        NicDevice("bridge", "ovsbr0", "52:54:00:00:00:03", vlan=7, virtualport="openvswitch"),
    ),
    data_disks=(
        DiskDevice(
            "/srv/db01-data.qcow2",
            "vdb",
            serial="data",
            tune=DiskTune(cache="none", io="native", iops=500, bytes_per_s=10_485_760),
        ),
    ),
    root_tune=DiskTune(cache="writeback", io="io_uring", iops=1000),
    rng=False,
    watchdog=WatchdogDevice("itco", "poweroff"),
    graphics=GraphicsDevice("vnc", "127.0.0.1", "s3cret"),
    boot_order=("network", "hd"),
)


def _faults(**props: Any) -> dict[str, str]:
    _, faults = check_inputs({**VALID_PROPS, **props}, DEFAULTS)
    return {f.property: f.reason for f in faults}


# --- the definition: a golden file, and read back ---


def test_every_device_and_knob_renders_as_the_golden_file() -> None:
    """Regenerate with VIGO_REGEN_XML=1 after an intended change, then review the diff."""
    path = DATA / "domain_hardware.xml"
    text = to_xml(HARDWARE, CLAIM)
    if REGEN:
        element = ET.fromstring(text)
        ET.indent(element)
        path.write_text(ET.tostring(element, encoding="unicode") + "\n")
    canonical = ET.canonicalize(xml_data=text, strip_text=True)
    assert canonical == ET.canonicalize(xml_data=path.read_text(), strip_text=True)


def test_the_definition_reads_back_as_it_was_written() -> None:
    assert from_xml(to_xml(HARDWARE, CLAIM)).config == HARDWARE


def test_the_xml_carries_what_libvirt_needs() -> None:
    root = ET.fromstring(to_xml(HARDWARE, CLAIM))
    macvtap, tagged, ovs = root.findall("devices/interface")
    assert macvtap.get("type") == "direct"
    assert macvtap.find("source").attrib == {"dev": "eth0", "mode": "bridge"}
    assert macvtap.find("bandwidth/inbound").get("average") == "1000"
    assert tagged.find("vlan/tag").get("id") == "42"
    assert ovs.find("virtualport").attrib == {"type": "openvswitch"}
    assert ovs.find("vlan/tag").get("id") == "7"
    root_disk, data = root.findall("devices/disk")
    assert (root_disk.find("driver").get("cache"), root_disk.find("driver").get("io")) == (
        "writeback",
        "io_uring",
    )
    assert root_disk.findtext("iotune/total_iops_sec") == "1000"
    assert root_disk.find("iotune/total_bytes_sec") is None
    assert data.findtext("iotune/total_bytes_sec") == "10485760"
    assert root.find("devices/rng") is None
    assert root.find("devices/watchdog").attrib == {"model": "itco", "action": "poweroff"}
    graphics = root.find("devices/graphics")
    assert graphics.get("autoport") == "yes" and graphics.get("listen") == "127.0.0.1"
    assert [b.get("dev") for b in root.findall("os/boot")] == ["network", "hd"]


def test_the_password_is_written_but_never_compared_nor_shown() -> None:
    """libvirt reports it only in secure XML, which the package never asks for: a definition
    read back without it is no drift, and no repr of the plan shows it."""
    written = ET.fromstring(to_xml(HARDWARE, CLAIM)).find("devices/graphics")
    assert written.get("passwd") == "s3cret"
    assert from_xml(to_xml(HARDWARE, CLAIM).replace(' passwd="s3cret"', "")).config == HARDWARE
    assert "s3cret" not in repr(HARDWARE)
    assert "s3cret" not in repr(make_spec(graphics="vnc", graphics_password="s3cret"))
    assert input_field("graphics_password").secret


def test_a_running_display_s_port_is_read_and_never_compared() -> None:
    live = to_xml(HARDWARE, CLAIM).replace("autoport=", "port='5901' autoport=")
    read = from_xml(live).config
    assert read.graphics is not None and read.graphics.port == 5901
    assert read == HARDWARE


# --- a VM of the previous release ---


def test_a_previous_release_definition_is_what_the_defaults_ask_for() -> None:
    """Every VM already had a virtio RNG and booted from hd: omitted, the new inputs ask for
    exactly that definition, so an upgrade changes nothing (no redefine, no restart)."""
    old = (DATA / "domain_full.xml").read_text()
    read = from_xml(old).config
    assert read.rng and read.boot_order == ("hd",) and read.root_tune == DiskTune()
    assert read.watchdog is None and read.graphics is None
    spec = parse_spec({**VALID_PROPS}, DEFAULTS)
    assert spec.rng and spec.boot_order is None and spec.watchdog is None
    wanted = desired_domain(spec, IDENTITY)
    assert (wanted.rng, wanted.boot_order, wanted.root_tune) == (True, ("hd",), DiskTune())


def test_recorded_state_of_the_previous_release_diffs_clean_against_its_program() -> None:
    spec = make_spec()
    old_state = make_recorded(spec)
    assert not diff(old_state, spec, converged(spec), make_base()).changed


# --- a display or watchdog the package did not write ---

HAND_ADDED = (
    "<graphics type='spice' autoport='yes'><listen type='address'/></graphics>"
    "<watchdog model='i6300esb' action='pause'/>"
)


def _hand_edited(spec_config: DomainConfig) -> str:
    return to_xml(spec_config, CLAIM).replace("</devices>", HAND_ADDED + "</devices>")


def test_omitted_the_domain_s_own_display_and_watchdog_stay_and_are_no_drift() -> None:
    spec = make_spec()
    live = from_xml(_hand_edited(desired_domain(spec, IDENTITY))).config
    wanted = desired_domain(spec, IDENTITY, live=live)
    assert wanted.structural() == live.structural()  # no drift
    written = ET.fromstring(to_xml(wanted, CLAIM))
    assert written.find("devices/graphics") is None  # not ours to write...
    merged = ET.fromstring(with_unmodelled(to_xml(wanted, CLAIM), _hand_edited(wanted)))
    assert merged.find("devices/graphics").get("type") == "spice"  # ...theirs kept
    assert merged.find("devices/watchdog").get("action") == "pause"


def test_given_the_package_s_display_and_watchdog_replace_the_domain_s_own() -> None:
    spec = make_spec(graphics="vnc", graphics_listen="127.0.0.1", watchdog=Watchdog())
    before = from_xml(_hand_edited(desired_domain(make_spec(), IDENTITY))).config
    wanted = desired_domain(spec, IDENTITY, live=before)
    assert wanted.structural() != before.structural()  # drift: a redefine
    merged = ET.fromstring(with_unmodelled(to_xml(wanted, CLAIM), _hand_edited(wanted)))
    assert [g.get("type") for g in merged.findall("devices/graphics")] == ["vnc"]
    assert [w.get("action") for w in merged.findall("devices/watchdog")] == ["reset"]


def test_rng_false_removes_the_rng() -> None:
    wanted = desired_domain(make_spec(rng=False), IDENTITY)
    assert ET.fromstring(to_xml(wanted, CLAIM)).find("devices/rng") is None


def test_a_password_change_redefines_though_libvirt_never_reports_one() -> None:
    from pulumi_vigo_vm.vm.axes import plan_converge

    old = make_spec(graphics="vnc", graphics_password="old")
    new = replace(old, graphics_password="new")
    observed = converged(old)
    assert observed.domain is not None
    plan = plan_converge(new, observed, make_base(), IDENTITY, make_recorded(old))
    assert plan.domain is not None and plan.domain.graphics is not None
    assert plan.domain.graphics.password == "new"


# --- refusals at check, naming the input and the fix ---


@pytest.mark.parametrize(
    ("props", "name", "says"),
    [
        ({"disk_cache": "fast"}, "disk_cache", "none, writethrough, writeback, directsync"),
        ({"disk_io": "aio"}, "disk_io", "threads, native, io_uring"),
        ({"disk_io": "native"}, "disk_io", 'add disk_cache="none"'),
        ({"disk_iops": 0}, "disk_iops", "at least 1"),
        ({"disk_bytes_per_s": "lots"}, "disk_bytes_per_s", "whole number"),
        ({"rng": "yes"}, "rng", "true or false"),
        ({"watchdog": {"model": "ib700"}}, "watchdog", "i6300esb, itco"),
        ({"watchdog": {"action": "explode"}}, "watchdog", "reset, poweroff"),
        ({"watchdog": {"model": "itco"}}, "watchdog", "default to 'pc'"),
        ({"watchdog": {"model": "itco"}, "machine": "pc"}, "watchdog", "machine='q35'"),
        ({"graphics": "rdp"}, "graphics", "vnc, spice"),
        ({"graphics": "vnc", "graphics_listen": "everywhere"}, "graphics_listen", "0.0.0.0"),
        ({"graphics_listen": "0.0.0.0"}, "graphics_listen", "needs graphics"),
        ({"graphics_password": "pw"}, "graphics_password", "needs graphics"),
        ({"boot_order": ["hd", "hd"]}, "boot_order", "appears twice"),
        ({"boot_order": ["floppy"]}, "boot_order", "hd, cdrom, network"),
        ({"boot_order": []}, "boot_order", "at least one"),
    ],
)
def test_bad_hardware_inputs_are_refused_naming_the_input_and_fix(
    props: dict[str, Any], name: str, says: str
) -> None:
    faults = _faults(**props)
    assert name in faults and says in faults[name], faults


def test_the_itco_watchdog_is_taken_on_q35_named_or_by_efi_default() -> None:
    for props in ({"machine": "q35"}, {"machine": "pc-q35-7.2"}, {"firmware": "efi"}):
        assert "watchdog" not in _faults(watchdog={"model": "itco"}, **props)


def test_a_vnc_password_vnc_would_cut_is_refused_without_quoting_it() -> None:
    secret = "correct-horse-battery"
    faults = _faults(graphics="vnc", graphics_password=secret)
    assert "at most 8" in faults["graphics_password"]
    assert "spice" not in _faults(graphics="spice", graphics_password=secret)
    bad = _faults(graphics="vnc", graphics_password="pw\x01" + secret)
    assert all(secret not in reason for reason in (*faults.values(), *bad.values()))


def test_a_display_listens_on_loopback_unless_told() -> None:
    normalised, faults = check_inputs({**VALID_PROPS, "graphics": "spice"}, DEFAULTS)
    assert not faults and normalised["graphics_listen"] == "127.0.0.1"
    normalised, _ = check_inputs(
        {**VALID_PROPS, "graphics": "vnc", "graphics_listen": "0:0::0"}, DEFAULTS
    )
    assert normalised["graphics_listen"] == "::"


def test_the_normalised_inputs_are_their_own_fixed_point() -> None:
    props = {
        **VALID_PROPS,
        "watchdog": {"model": "itco"},
        "machine": "q35",
        "boot_order": ["cdrom", "hd"],
        "disk_cache": "none",
        "disk_io": "native",
        "nics": [{"type": "direct", "dev": "eth0", "vlan": 7, "mode": "passthrough"}],
        "data_disks": [{"path": "/srv/d.qcow2", "iops": "300", "cache": "directsync"}],
    }
    once, faults = check_inputs(props, DEFAULTS)
    assert not faults
    assert once["watchdog"] == {"model": "itco", "action": "reset"}
    assert once["nics"][0] == {
        "type": "direct",
        "dev": "eth0",
        "mode": "passthrough",
        "model": "virtio",
        "vlan": 7,
    }
    twice, _ = check_inputs(once, DEFAULTS)
    assert twice == once
    recorded = parse_spec(once, DEFAULTS).to_inputs()
    assert parse_spec({**VALID_PROPS, **recorded}, DEFAULTS).to_inputs() == recorded


# --- NICs: macvtap, VLAN, bandwidth ---


def test_a_macvtap_nic_is_on_a_host_interface_in_bridge_mode_by_default() -> None:
    (nic,) = nics([{"type": "direct", "dev": "eth0"}])
    assert (nic.kind, nic.source, nic.mode) == ("direct", "eth0", "bridge")
    (shaped,) = nics([{"bridge": "br0", "bandwidth": {"inbound": 100.0}}])
    assert (shaped.inbound, shaped.outbound) == (100, None)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"dev": "eth0"}, "add type='direct'"),
        ({"type": "direct"}, "exactly one of bridge and network"),
        ({"type": "direct", "dev": "eth0", "mode": "trunk"}, "bridge, vepa, private"),
        ({"type": "bridge", "network": "lab"}, "give bridge"),
        ({"bridge": "br0", "mode": "bridge"}, "drop it"),
        ({"network": "lab", "vlan": 4095}, "at most 4094"),
        ({"type": "direct", "dev": "eth0", "vlan": 10}, "mode='passthrough'"),
        ({"bridge": "br0", "bandwidth": {"peak": 1}}, "inbound, outbound"),
        ({"bridge": "br0", "bandwidth": {}}, "needs inbound or outbound"),
    ],
)
def test_bad_nics_are_refused_naming_the_entry_and_fix(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=r"^\[0\]") as caught:
        nics([entry])
    assert says in str(caught.value)


def test_a_tagged_nic_on_a_bridge_is_an_open_vswitch_port() -> None:
    tagged, untagged = nics([{"bridge": "ovsbr0", "vlan": 10}, {"bridge": "br0"}])
    assert (tagged.vlan, tagged.virtualport) == (10, "openvswitch")
    assert untagged.virtualport is None
    (network,) = nics([{"network": "lab", "vlan": 10}])
    assert network.virtualport is None  # the network's definition says what it is


def test_the_interface_id_libvirt_adds_to_an_ovs_port_is_no_drift() -> None:
    written = to_xml(HARDWARE, CLAIM)
    assert '<virtualport type="openvswitch" />' in written
    libvirt = written.replace(
        '<virtualport type="openvswitch" />',
        "<virtualport type='openvswitch'><parameters "
        "interfaceid='ff0f9acb-aecf-4bbd-b645-b02a5e9a67f5'/></virtualport>",
    )
    assert from_xml(libvirt).config == HARDWARE


@pytest.mark.parametrize(
    ("linux_bridge", "says"),
    [
        (True, "'br0' is a Linux bridge on hv1, which libvirt cannot tag"),
        (False, "Open vSwitch on hv1 has no bridge 'br0'"),
    ],
)
def test_a_tagged_nic_needs_an_open_vswitch_bridge_at_preview(
    linux_bridge: bool, says: str
) -> None:
    (nic,) = nics([{"bridge": "br0", "vlan": 42}])
    spec = make_spec(network_bridge=None, nics=(nic,))
    (fault,) = refuse_nic_sources(
        spec, {0: NicSource(nic, False, linux_bridge=linux_bridge)}, "hv1"
    )
    assert fault.property == "nics" and says in fault.reason
    assert "ovs-vsctl list-br" in fault.reason and "type vlan id 42" in fault.reason
    assert not refuse_nic_sources(spec, {0: NicSource(nic, True)}, "hv1")


def test_a_missing_macvtap_parent_is_refused_at_preview_naming_the_host() -> None:
    nic = Nic("direct", "eth9", mode="bridge")
    spec = make_spec(network_bridge=None, nics=(nic,))
    (fault,) = refuse_nic_sources(spec, {0: NicSource(nic, False)}, "hv1")
    assert fault.property == "nics"
    assert "[0].dev 'eth9'" in fault.reason and "on hv1" in fault.reason


def test_a_data_disk_s_tuning_is_checked_and_kept() -> None:
    (disk,) = data_disks([{"path": "/srv/a.qcow2", "cache": "none", "bytes_per_s": 4096}])
    assert disk.tune == DiskTune(cache="none", bytes_per_s=4096)
    assert disk.to_input()["bytes_per_s"] == 4096 and "iops" not in disk.to_input()
    with pytest.raises(ValueError, match=r"\[0\]: io=\"native\" needs"):
        data_disks([{"path": "/srv/a.qcow2", "io": "native"}])


def test_every_new_device_reaches_the_definition_from_the_spec() -> None:
    spec = make_spec(
        network_bridge=None,
        nics=(Nic("direct", "eth0", mode="bridge", inbound=10),),
        disk_iops=99,
        watchdog=Watchdog(WatchdogModel.I6300ESB),
        graphics="spice",
        graphics_listen="127.0.0.1",
        boot_order=("cdrom", "hd"),
    )
    wanted = desired_domain(spec, IDENTITY)
    assert wanted.nics[0].kind == "direct" and wanted.nics[0].inbound == 10
    assert wanted.root_tune.iops == 99 and wanted.boot_order == ("cdrom", "hd")
    assert wanted.watchdog == WatchdogDevice("i6300esb", "reset")
    assert wanted.graphics == GraphicsDevice("spice", "127.0.0.1")
    assert from_xml(to_xml(wanted, CLAIM)).config == wanted
