"""Data disks, several NICs and the seed's other documents against a real libvirtd, locally
and over qemu+ssh: what survives a replace, what an update keeps, what is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from support.disks import another_name, has_marker, qemu_img, write_marker
from support.lab import Lab

from pulumi_vigo_vm.testing import CheckFailedError, ProviderError
from pulumi_vigo_vm.vm.domain_xml import from_xml

pytestmark = pytest.mark.libvirt

USER_DATA = "#cloud-config\nhostname: first\n"


def data_disk(lab: Lab, name: str = "data.qcow2", size: str = "32M", fmt: str = "qcow2") -> Path:
    """A pre-existing volume outside images_dir, as an operator would attach one."""
    path = lab.root / name
    qemu_img("create", "-q", "-f", fmt, str(path), size)
    return path


def persistent(lab: Lab, short: str) -> ET.Element:
    domain = lab.domain(short)
    assert domain is not None
    return ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def pci_slots(root: ET.Element) -> dict[str, str | None]:
    """Each NIC's (by MAC) and data disk's (by source) PCI slot."""
    slots: dict[str, str | None] = {}
    for interface in root.findall("devices/interface"):
        mac, address = interface.find("mac"), interface.find("address")
        assert mac is not None and address is not None
        slots[mac.get("address", "")] = address.get("slot")
    for disk in root.findall("devices/disk"):
        source, address = disk.find("source"), disk.find("address")
        if source is not None and address is not None and address.get("type") == "pci":
            slots[source.get("file", "")] = address.get("slot")
    return slots


@pytest.mark.transport
def test_data_bytes_survive_a_user_data_replace_a_base_change_and_a_restart(lab: Lab) -> None:
    data = data_disk(lab)
    write_marker(data)
    disks = [{"path": str(data), "serial": "pgdata"}]
    lab.vm("a", cloud_init_user_data=USER_DATA, data_disks=disks)
    lab.up()
    assert lab.power("a") == "running"
    root = persistent(lab, "a")
    attached = [d for d in root.findall("devices/disk") if d.get("device") == "disk"][1]
    assert attached.findtext("serial") == "pgdata"
    assert attached.find("target").get("dev") == "vdb"  # type: ignore[union-attr]

    lab.vm("a", cloud_init_user_data="#cloud-config\nhostname: second\n", data_disks=disks)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("replace", ["cloud_init_user_data"])
    lab.up()
    assert has_marker(data), "a replace of the VM must leave its data disk's bytes alone"

    other = lab.base("other.qcow2", size="128M")
    lab.vm("a", disk_path=str(other), cloud_init_user_data=USER_DATA, data_disks=disks)
    assert lab.up().ops() == {"a": "replace"}
    assert has_marker(data)
    assert data.exists()

    lab.vm("a", state="stopped", disk_path=str(other), data_disks=disks)
    lab.up()
    lab.vm("a", state="running", disk_path=str(other), data_disks=disks)
    lab.up()
    assert has_marker(data)

    lab.vm("a", state="absent", disk_path=str(other), data_disks=disks)
    lab.up()
    assert has_marker(data), "removing the VM never removes a data disk"


def test_adding_and_removing_nics_and_disks_is_an_update_keeping_uuid_macs_and_slots(
    lab: Lab,
) -> None:
    first, second = data_disk(lab, "one.qcow2"), data_disk(lab, "two.raw", fmt="raw")
    lab.vm("a", state="stopped", network_bridge=lab.bridge)
    lab.up()
    before = lab.outputs("a")
    uuid, mac = before["uuid"], before["mac_address"]

    nics = [{"bridge": lab.bridge}, {"bridge": lab.bridge, "model": "e1000e"}]
    disks = [{"path": str(first)}, {"path": str(second), "format": "raw", "readonly": True}]
    lab.vm("a", state="stopped", nics=nics, data_disks=disks)
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()
    outputs = lab.outputs("a")
    assert outputs["uuid"] == uuid
    assert outputs["mac_addresses"][0] == mac, "a v1 NIC keeps its MAC when moved into nics"
    assert len(set(outputs["mac_addresses"])) == 2
    config = from_xml(ET.tostring(persistent(lab, "a"), encoding="unicode")).config
    assert [n.model for n in config.nics] == ["virtio", "e1000e"]
    assert [(d.source, d.target, d.format, d.readonly) for d in config.data_disks] == [
        (str(first), "vdb", "qcow2", False),
        (str(second), "vdc", "raw", True),
    ]
    assert outputs["data_disks"][0]["serial"] == "one", "the serial defaults to the file's stem"
    slots = pci_slots(persistent(lab, "a"))

    lab.vm("a", state="stopped", nics=nics, data_disks=[disks[1]])
    assert lab.up().ops() == {"a": "update"}
    after = lab.outputs("a")
    assert (after["uuid"], after["mac_addresses"]) == (uuid, outputs["mac_addresses"])
    kept = pci_slots(persistent(lab, "a"))
    for key in (*outputs["mac_addresses"], str(second)):
        assert kept[key] == slots[key], f"{key} moved to another PCI slot"

    lab.vm("a", state="stopped", nics=nics[:1])
    lab.up()
    assert lab.outputs("a")["mac_addresses"] == [mac]
    assert lab.harness().up().counts() == {"same": 1}


def test_a_running_vm_takes_a_new_nic_without_a_restart(lab: Lab) -> None:
    lab.vm("a", nics=[{"bridge": lab.bridge}])
    lab.up()
    started = lab.domain("a").ID()  # type: ignore[union-attr]
    lab.vm("a", nics=[{"bridge": lab.bridge}, {"bridge": lab.bridge}])
    lab.up()
    domain = lab.domain("a")
    assert domain is not None and domain.ID() == started, "hot-plugged (see test_live_changes)"
    assert len(from_xml(domain.XMLDesc()).config.nics) == 2, "the running guest has both"


@pytest.mark.transport
def test_reseed_keeps_the_root_and_swaps_in_a_new_seed(lab: Lab) -> None:
    lab.vm("a", state="stopped", cloud_init_user_data=USER_DATA, on_seed_change="reseed")
    lab.up()
    first = lab.outputs("a")
    old_seed = lab.seeds("a")
    write_marker(lab.overlay("a"))
    inode = lab.overlay("a").stat().st_ino

    lab.vm(
        "a",
        state="stopped",
        cloud_init_user_data=USER_DATA,
        cloud_init_network_config="version: 2\nethernets: {}\n",
        cloud_init_meta_data={"role": "db"},
        on_seed_change="reseed",
    )
    step = lab.preview().step("a")
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()
    outputs = lab.outputs("a")
    assert outputs["uuid"] == first["uuid"]
    assert lab.overlay("a").stat().st_ino == inode and has_marker(lab.overlay("a"))
    new_seed = lab.seeds("a")
    assert len(new_seed) == 1 and new_seed != old_seed, "the old seed goes once swapped out"
    assert from_xml(ET.tostring(persistent(lab, "a"), encoding="unicode")).config.seed_iso_path
    assert lab.harness().up().counts() == {"same": 1}


def test_a_disk_another_domain_writes_is_refused_naming_it(lab: Lab) -> None:
    data = data_disk(lab)
    lab.vm("owner", state="defined", data_disks=[{"path": str(data)}])
    lab.up()
    lab.vm("thief", state="defined", data_disks=[{"path": str(data)}])
    with pytest.raises(ProviderError) as caught:
        lab.up()
    message = str(caught.value)
    assert lab.name("owner") in message and "data_disks[0]" in message
    assert lab.domain("thief") is None, "nothing is made for a refused VM"


@pytest.mark.transport
def test_two_vms_defined_at_once_with_one_writable_disk_exactly_one_gets_it(lab: Lab) -> None:
    """Both VMs in one program, no dependency between them: the harness's engine runs their
    creates at once (``parallel`` 10, as ``pulumi up``), in the one provider process, as
    the real engine does. ``sleep-before:define`` (the fault hook) holds each create
    between its plan and its define, so both plan from a listing where the disk is free:
    only the check made again at the define, under the host's act lock, tells them apart."""
    data = data_disk(lab)
    lab.vm("one", state="defined", data_disks=[{"path": str(data)}])
    lab.vm("two", state="defined", data_disks=[{"path": str(data)}])

    with pytest.raises(ProviderError) as caught:
        lab.faulty("sleep-before:define").up()

    made = [short for short in ("one", "two") if lab.domain(short) is not None]
    assert len(made) == 1, f"exactly one VM may write {data}, got {made}"
    message = str(caught.value)
    assert f"is already attached writable to {lab.name(made[0])}" in message
    assert "data_disks[0]" in message


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
@pytest.mark.transport
def test_a_disk_another_domain_writes_by_another_name_is_refused_naming_it(
    lab: Lab, how: str
) -> None:
    data = data_disk(lab)
    lab.vm("owner", state="defined", data_disks=[{"path": another_name(lab.root, data, how)}])
    lab.up()
    lab.vm("thief", state="defined", data_disks=[{"path": str(data)}])
    with pytest.raises(ProviderError) as caught:
        lab.up()
    assert lab.name("owner") in str(caught.value) and "data_disks[0]" in str(caught.value)
    assert lab.domain("thief") is None, "nothing is made for a refused VM"


def test_bad_data_disks_are_refused_before_anything_is_made(lab: Lab) -> None:
    lab.vm("a", state="defined", data_disks=[{"path": str(lab.root / "missing.qcow2")}])
    with pytest.raises(ProviderError, match="does not exist"):
        lab.up()
    assert lab.domain("a") is None

    lab.vm("a", state="defined", data_disks=[{"path": str(lab.overlay("a"))}])
    with pytest.raises(CheckFailedError, match="own overlay"):
        lab.preview()

    raw = lab.base("notqcow.raw", fmt="raw")
    lab.vm("a", state="defined", data_disks=[{"path": str(raw)}])
    with pytest.raises(ProviderError, match="not a qcow2 image"):
        lab.up()
    assert lab.domain("a") is None


def test_a_vm_and_its_vigodisks_in_one_program_converge_in_dependency_order(lab: Lab) -> None:
    lab.disk("data")
    lab.vm("a", state="stopped", data_disks=[{"disk": "data", "serial": "data"}])
    preview = lab.preview()  # the disk's path is unknown until it exists: no error
    assert {s.name: s.op for s in preview.program_steps() if s.op != "same"} == {
        "data": "create",
        "a": "create",
    }
    lab.up()
    recorded = {r.name: r for r in lab.harness().snapshot().ordered()}
    assert "__provider" not in recorded["data"].secret_outputs, "a VigoDisk's blob holds no secret"
    data = lab.images_dir / "disks" / f"{lab.name('data')}.qcow2"
    config = from_xml(ET.tostring(persistent(lab, "a"), encoding="unicode")).config
    assert [(d.source, d.serial) for d in config.data_disks] == [(str(data), "data")]
    write_marker(data)

    lab.disk("more")
    lab.vm("a", state="stopped", data_disks=[{"disk": "data", "serial": "data"}, {"disk": "more"}])
    step = lab.preview().step("a")  # an unknown path inside data_disks: an update
    assert (step.op, list(step.replaces)) == ("update", [])
    lab.up()
    assert len(from_xml(lab.domain("a").XMLDesc()).config.data_disks) == 2  # type: ignore[union-attr]
    assert lab.harness().refresh().ops()["data"] == "read"
    assert lab.outputs("data")["attached_to"] == [lab.name("a")]
    assert has_marker(data)

    assert lab.harness().destroy().ops() == {"a": "delete", "data": "delete", "more": "delete"}
    assert lab.domain("a") is None and not data.exists()


def test_a_pool_volume_is_attached_as_a_volume_and_kept_across_a_replace(lab: Lab) -> None:
    data = data_disk(lab, "pooled-data.qcow2")
    write_marker(data)
    pool_xml = (
        f"<pool type='dir'><name>{lab.prefix}</name><target><path>{lab.root}</path></target></pool>"
    )
    pool = lab.conn.storagePoolCreateXML(pool_xml, 0)
    disks = [{"path": f"{lab.prefix}:pooled-data.qcow2"}]
    try:
        lab.vm("a", state="defined", cloud_init_user_data=USER_DATA, data_disks=disks)
        lab.up()
        [disk] = [
            d for d in persistent(lab, "a").findall("devices/disk") if d.get("type") == "volume"
        ]
        source = disk.find("source")
        assert source is not None
        assert (source.get("pool"), source.get("volume")) == (lab.prefix, "pooled-data.qcow2")
        assert lab.outputs("a")["data_disks"][0]["serial"] == "pooled-data"
        assert lab.harness().up().counts() == {"same": 1}, "the volume reads back as given"

        lab.vm("a", state="defined", cloud_init_user_data="#cloud-config\n", data_disks=disks)
        assert lab.up().ops() == {"a": "replace"}
        assert has_marker(data)
    finally:
        lab.harness().destroy()
        pool.destroy()
    assert has_marker(data), "a VM never removes its data disks"
