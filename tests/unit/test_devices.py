"""Data disks, NICs and the seed's documents as inputs: what is accepted, what is refused
and why, and how MACs are kept. Pure: no host."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi.output import Unknown

from pulumi_vigo_vm.common.unknown import contains_unknown
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.cloudinit import SeedContent
from pulumi_vigo_vm.vm.devices import (
    MAX_SERIAL_LENGTH,
    DataDisk,
    DiskBus,
    Nic,
    assign_macs,
    data_disks,
    nics,
)
from pulumi_vigo_vm.vm.inputs import cloud_init_meta_data
from pulumi_vigo_vm.vm.spec import check_inputs

from ._values import CLAIM


def test_a_data_disk_gets_defaults_and_a_serial_from_its_stem() -> None:
    [disk] = data_disks([{"path": "/srv/disks/pg01-data.qcow2"}])
    assert disk == DataDisk("/srv/disks/pg01-data.qcow2", "qcow2", "pg01-data", DiskBus.VIRTIO)
    [volume] = data_disks([{"path": "tank:a-very-long-volume-name-indeed.raw", "format": "raw"}])
    assert volume.serial == "a-very-long-volume-n" and len(volume.serial) == MAX_SERIAL_LENGTH
    assert data_disks([disk.to_input()]) == (disk,), "idempotent on its normalised output"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/srv/a.qcow2", "must be a list"),
        ([{"path": "relative.qcow2"}], "neither an absolute file path nor pool:volume"),
        ([{"path": "/srv/../etc/shadow"}], "'..'"),
        ([{"path": "/srv/a'.qcow2"}], "must not contain any of"),
        ([{}], "needs a path"),
        ([{"path": "/a", "size": 3}], "unknown keys 'size'"),
        ([{"path": "/a", "format": "vmdk"}], "qcow2 or raw"),
        ([{"path": "/a", "serial": "x" * 21}], "1-20 characters"),
        ([{"path": "/a", "bus": "ide"}], "virtio, scsi, sata"),
        ([{"path": "/a", "readonly": "yes"}], "true or false"),
        ([{"path": "/a"}, {"path": "/a"}], "appears twice"),
        ([{"path": "/a", "serial": "s"}, {"path": "/b", "serial": "s"}], "appears twice"),
    ],
)
def test_bad_data_disks_are_refused_naming_the_entry(value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        data_disks(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([{"bridge": "br0", "network": "default"}], "exactly one of bridge and network"),
        ([{}], "exactly one of bridge and network"),
        ([{"bridge": "br0/evil"}], "is not a Linux interface name"),
        ([{"bridge": "br0", "mac": "01:00:5e:00:00:01"}], "multicast"),
        ([{"bridge": "br0", "mac": "52:54:00:zz:00:01"}], "MAC address like"),
        ([{"bridge": "br0", "model": "ne2k"}], "virtio, e1000e, e1000, rtl8139"),
        (
            [
                {"bridge": "a", "mac": "52:54:00:00:00:01"},
                {"bridge": "b", "mac": "52:54:00:00:00:01"},
            ],
            "twice",
        ),
    ],
)
def test_bad_nics_are_refused_naming_the_entry(value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        nics(value)


MACS = st.lists(
    st.integers(0, 2**24 - 1).map(
        lambda n: "52:54:00:" + ":".join(f"{n:06x}"[i : i + 2] for i in (0, 2, 4))
    ),
    unique=True,
    max_size=6,
)


@given(given_macs=MACS, previous=MACS, count=st.integers(0, 6))
def test_macs_are_given_or_kept_by_position_and_never_repeat(
    given_macs: list[str], previous: list[str], count: int
) -> None:
    wanted = [
        Nic("bridge", "br0", given_macs[i] if i < len(given_macs) and i % 2 == 0 else None)
        for i in range(count)
    ]
    macs = assign_macs(wanted, previous, "52:54:00:ff:ff:ff")
    assert len(macs) == count and len(set(macs)) == count
    for index, (nic, mac) in enumerate(zip(wanted, macs, strict=True)):
        if nic.mac:
            assert mac == nic.mac
        elif index < len(previous) and previous[index] not in {n.mac for n in wanted}:
            assert mac == previous[index]


def test_a_vm_without_a_nic_gives_its_mac_to_the_first_nic_added() -> None:
    first = "52:54:00:12:34:56"
    assert assign_macs([Nic("bridge", "br0")], [], first) == (first,)
    assert assign_macs([Nic("bridge", "br0"), Nic("network", "n")], [first], first)[0] == first


def test_user_data_alone_hashes_as_the_previous_release_did() -> None:
    user_data = "#cloud-config\nhostname: web01\n"
    assert SeedContent(user_data).hash == hashlib.sha256(user_data.encode()).hexdigest()[:8]
    with_network = SeedContent(user_data, network_config="version: 2\n").hash
    with_meta = SeedContent(user_data, meta_data={"role": "db"}).hash
    assert len({SeedContent(user_data).hash, with_network, with_meta}) == 3
    assert SeedContent().hash is None


def test_meta_data_may_not_take_the_keys_the_seed_writes() -> None:
    for key in ("instance-id", "local-hostname"):
        with pytest.raises(ValueError, match=key):
            cloud_init_meta_data({key: "x"})
    with pytest.raises(ValueError, match="JSON values"):
        cloud_init_meta_data({"when": object()})
    assert cloud_init_meta_data({"role": "db", "n": 3}) == {"role": "db", "n": 3}


BASE_INPUTS = {
    "vm_name": "web01",
    "memory_mib": 512,
    "vcpu": 1,
    "disk_path": "/var/lib/libvirt/images/base.qcow2",
    "claim": CLAIM,
}


def test_an_unknown_path_inside_data_disks_makes_the_input_unknown_not_an_error() -> None:
    value = [{"path": Unknown(), "serial": "data"}]
    assert contains_unknown(value)
    inputs, faults = check_inputs({**BASE_INPUTS, "data_disks": value}, ProviderDefaults())
    assert faults == [] and inputs["data_disks"] is value


def test_nics_exclude_the_one_nic_shorthands() -> None:
    props = {**BASE_INPUTS, "nics": [{"bridge": "br0"}], "network_bridge": "br0"}
    _, faults = check_inputs(props, ProviderDefaults())
    assert [f.property for f in faults] == ["nics"]
    assert "the MAC is kept" in faults[0].reason
