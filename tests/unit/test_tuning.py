"""The hardware and tuning inputs (operations spec §4): their grammar and normal forms, the
checks between inputs, and the host judgement from values (vm/tuning.py, vm/hostfit.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pulumi_vigo_vm.common.hostcaps import HostTopology, parse_host_topology
from pulumi_vigo_vm.errors import InputError
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm import tuning
from pulumi_vigo_vm.vm.devices import data_disks
from pulumi_vigo_vm.vm.hostfit import (
    HostFit,
    changed_tuning,
    refuse_host_fit,
    usb_ids,
    virtiofsd_binary,
)
from pulumi_vigo_vm.vm.spec import check_inputs, parse_spec
from pulumi_vigo_vm.vm.tuning import Filesystem, HostDevice, Numa, NumaMode

from ._values import make_spec

DEFAULTS = ProviderDefaults()
BASE_INPUTS = {
    "vm_name": "web01",
    "memory_mib": 1024,
    "vcpu": 2,
    "disk_path": "/srv/base.qcow2",
    "claim": "o/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoVm::web01",
}

# --- grammar and normal forms ---


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ([{"pci": "0000:3B:00.0"}], (HostDevice("pci", "0000:3b:00.0"),)),
        ([{"pci": "3b:1f.7"}], (HostDevice("pci", "0000:3b:1f.7"),)),
        ([{"usb": "046D:C52B"}], (HostDevice("usb", "046d:c52b"),)),
        ([], ()),
    ],
)
def test_host_devices_are_normalised_as_libvirt_names_them(
    given: list[dict[str, str]], normal: tuple[HostDevice, ...]
) -> None:
    assert tuning.host_devices(given) == normal
    assert tuning.host_devices([d.to_input() for d in normal]) == normal


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ([{"pci": "0000:3b:20.0"}], "[0].pci must be a PCI address"),
        ([{"pci": "3b:00"}], "[0].pci must be a PCI address"),
        ([{"usb": "46d:c52b"}], "[0].usb must be a USB vendor:product"),
        ([{"pci": "0000:3b:00.0", "usb": "046d:c52b"}], "[0] needs exactly one of pci"),
        ([{"scsi": "0:0:0:0"}], "[0] has unknown keys 'scsi'"),
        ([{"pci": "3b:00.0"}, {"pci": "0000:3b:00.0"}], "[1].pci 0000:3b:00.0 appears twice"),
        ({"pci": "0000:3b:00.0"}, "must be a list"),
    ],
)
def test_bad_host_devices_are_refused_naming_the_entry(given: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        tuning.host_devices(given)
    assert fragment in str(caught.value)


def test_filesystems_are_normalised_and_refused_naming_the_entry() -> None:
    assert tuning.filesystems([{"source": "/srv//share/", "tag": "data"}]) == (
        Filesystem("/srv/share", "data", False),
    )
    refusals = {
        "[0].source": [{"source": "srv", "tag": "t"}],
        "[0].source / would share the whole host": [{"source": "/", "tag": "t"}],
        "[0].tag must be 1-36": [{"source": "/srv", "tag": "has space"}],
        "[0].readonly must be true or false": [{"source": "/srv", "tag": "t", "readonly": "y"}],
        "[0] needs a tag": [{"source": "/srv"}],
        "tag 't' appears twice": [{"source": "/a", "tag": "t"}, {"source": "/b", "tag": "t"}],
    }
    for fragment, given in refusals.items():
        with pytest.raises(ValueError) as caught:
            tuning.filesystems(given)
        assert fragment in str(caught.value), given


@pytest.mark.parametrize(
    ("given", "normal"),
    [("0", "0"), ("0,1,2,4", "0-2,4"), ("2-3", "2-3"), ("4,0", "0,4"), (3, "3"), (3.0, "3")],
)
def test_cpu_sets_are_written_as_libvirt_writes_them(given: Any, normal: str) -> None:
    assert tuning.cpu_pinning([given]) == (normal,)
    assert tuning.format_cpu_set(tuning.parse_cpu_set(normal)) == normal


@pytest.mark.parametrize(
    ("given", "fragment"),
    [("3-1", "running backwards"), ("0-9000", "beyond libvirt's 8191"), ("a", "set of ids")],
)
def test_bad_cpu_sets_are_refused_naming_the_vcpu(given: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        tuning.cpu_pinning(["0", given])
    assert str(caught.value).startswith("[1] ") and fragment in str(caught.value)


def test_numa_defaults_to_strict_and_preferred_takes_one_node() -> None:
    assert tuning.numa({"nodeset": "1,0"}) == Numa(NumaMode.STRICT, "0-1")
    assert tuning.numa({"mode": "preferred", "nodeset": "1"}) == Numa(NumaMode.PREFERRED, "1")
    with pytest.raises(ValueError, match="mode 'preferred' takes one node"):
        tuning.numa({"mode": "preferred", "nodeset": "0-1"})
    with pytest.raises(ValueError, match=r"\.mode must be one of"):
        tuning.numa({"mode": "restrictive", "nodeset": "0"})
    with pytest.raises(ValueError, match="needs a nodeset"):
        tuning.numa({"mode": "strict"})


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        (True, True),
        (False, False),
        ("true", True),
        (2048, 2048),
        (2048.0, 2048),
        ("1048576", 1048576),
    ],
)
def test_hugepages_are_a_flag_or_a_page_size(given: Any, normal: bool | int) -> None:
    assert tuning.hugepages(given) is normal or tuning.hugepages(given) == normal


@pytest.mark.parametrize(("given", "fragment"), [(3000, "power of two"), (4, "at least 64")])
def test_hugepages_of_no_page_size_are_refused(given: int, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        tuning.hugepages(given)


def test_a_disk_on_an_io_thread_must_be_virtio() -> None:
    (disk,) = data_disks([{"path": "/srv/d.qcow2", "iothread": 2}])
    assert disk.iothread == 2 and disk.to_input()["iothread"] == 2
    assert "iothread" not in data_disks([{"path": "/srv/d.qcow2"}])[0].to_input()
    with pytest.raises(ValueError, match=r"\[0\]\.iothread needs bus 'virtio'"):
        data_disks([{"path": "/srv/d.qcow2", "bus": "scsi", "iothread": 1}])


# --- checks between inputs ---


def _faults(**given: Any) -> dict[str, str]:
    _normalised, faults = check_inputs({**BASE_INPUTS, **given}, DEFAULTS)
    return {f.property: f.reason for f in faults}


def test_pinning_needs_one_cpu_set_per_vcpu_and_says_so() -> None:
    reason = _faults(cpu_pinning=["0", "1", "1"])["cpu_pinning"]
    assert "holds 3 CPU sets but vcpu is 2" in reason and "(2 entries)" in reason
    assert _faults(cpu_pinning=["0", "1"]) == {}


def test_a_disk_on_an_io_thread_beyond_iothreads_is_refused() -> None:
    disks = [{"path": "/srv/d.qcow2", "iothread": 3}]
    assert "set iothreads to at least 3" in _faults(data_disks=disks, iothreads=2)["data_disks"]
    assert "(iothreads is not set)" in _faults(data_disks=disks)["data_disks"]
    assert _faults(data_disks=disks, iothreads=3) == {}


def test_every_tuning_input_survives_the_state_round_trip() -> None:
    given = {
        **BASE_INPUTS,
        "host_devices": [{"pci": "3B:00.0"}, {"usb": "046d:C52B"}],
        "filesystems": [{"source": "/srv/share", "tag": "share", "readonly": True}],
        "cpu_pinning": ["0,1", 2.0],
        "numa": {"mode": "interleave", "nodeset": "0,1"},
        "hugepages": "2048",
        "iothreads": "2",
        "data_disks": [{"path": "/srv/d.qcow2", "iothread": 2}],
    }
    spec = parse_spec(given, DEFAULTS)
    recorded = spec.to_inputs()
    assert recorded["host_devices"] == [{"pci": "0000:3b:00.0"}, {"usb": "046d:c52b"}]
    assert recorded["cpu_pinning"] == ["0-1", "2"]
    assert recorded["numa"] == {"mode": "interleave", "nodeset": "0-1"}
    assert (recorded["hugepages"], recorded["iothreads"]) == (2048, 2)
    assert parse_spec(recorded, DEFAULTS) == spec


def test_a_vm_of_the_previous_release_has_none_of_them() -> None:
    """Recorded outputs without the new keys parse to a VM that asks for none."""
    spec = parse_spec(BASE_INPUTS, DEFAULTS)
    assert (spec.host_devices, spec.filesystems, spec.cpu_pinning) == ((), (), ())
    assert (spec.numa, spec.hugepages, spec.iothreads) == (None, False, None)
    assert changed_tuning(spec, None) == frozenset()


def test_bad_tuning_inputs_are_all_reported_at_once() -> None:
    with pytest.raises(InputError) as caught:
        parse_spec({**BASE_INPUTS, "hugepages": 3, "iothreads": 0, "numa": "0"}, DEFAULTS)
    assert {f.property for f in caught.value.faults} == {"hugepages", "iothreads", "numa"}


# --- judged against a host, from values ---

CAPABILITIES = """<capabilities><host><cpu><arch>x86_64</arch>
<pages unit='KiB' size='4'/><pages unit='KiB' size='2048'/><pages unit='KiB' size='1048576'/>
</cpu><topology><cells num='2'>
<cell id='0'><cpus num='2'><cpu id='0'/><cpu id='1'/></cpus></cell>
<cell id='1'><cpus num='2'><cpu id='2'/><cpu id='3'/></cpus></cell>
</cells></topology></host></capabilities>"""
TOPOLOGY = parse_host_topology(CAPABILITIES)
SPEC = make_spec(vcpu=2, memory_mib=1024)


def test_the_host_topology_is_read_from_capabilities() -> None:
    assert HostTopology(frozenset({0, 1, 2, 3}), frozenset({0, 1}), (4, 2048, 1048576)) == TOPOLOGY
    assert TOPOLOGY.default_hugepage_kib == 2048


def _judged(spec: Any, fit: HostFit) -> dict[str, str]:
    faults = refuse_host_fit(spec, fit, changed_tuning(spec, None), "hv1")
    return {f.property: f.reason for f in faults}


def test_pinned_cpus_and_numa_nodes_must_exist_on_the_host() -> None:
    spec = replace(SPEC, cpu_pinning=("0", "3-5"), numa=Numa(NumaMode.STRICT, "1-2"))
    faults = _judged(spec, HostFit(topology=TOPOLOGY))
    assert (
        "[1] '3-5' names CPU 4-5, which hv1 does not have (its CPUs: 0-3" in faults["cpu_pinning"]
    )
    assert "NUMA node 2, which hv1 does not have (its nodes: 0-1" in faults["numa"]
    fine = replace(SPEC, cpu_pinning=("0", "2-3"), numa=Numa(NumaMode.STRICT, "0-1"))
    assert _judged(fine, HostFit(topology=TOPOLOGY)) == {}


def test_huge_pages_count_only_the_nodes_a_strict_policy_allows() -> None:
    spec = replace(SPEC, hugepages=2048, numa=Numa(NumaMode.STRICT, "1"))
    fit = HostFit(topology=TOPOLOGY, page_kib=2048, free_pages={0: 512, 1: 100})
    reason = _judged(spec, fit)["hugepages"]
    assert "1024 MiB of guest memory needs 512 free 2048 KiB pages, and 100 are free" in reason
    assert "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages" in reason
    assert _judged(replace(spec, numa=None), fit) == {}


def test_host_devices_missing_ambiguous_or_taken_are_refused_naming_the_fix() -> None:
    spec = replace(
        SPEC,
        host_devices=(
            HostDevice("pci", "0000:3b:00.0"),
            HostDevice("usb", "046d:c52b"),
            HostDevice("usb", "1d6b:0002"),
            HostDevice("pci", "0000:00:03.0"),
        ),
    )
    fit = HostFit(
        pci_present={"0000:3b:00.0": False, "0000:00:03.0": True},
        usb_matches={"046d:c52b": 0, "1d6b:0002": 2},
        users={"0000:00:03.0": ("db01",)},
    )
    faults = refuse_host_fit(spec, fit, frozenset({"host_devices"}), "hv1")
    reasons = [f.reason for f in faults]
    assert [f.property for f in faults] == ["host_devices"] * 4
    assert "no such PCI device on hv1" in reasons[0] and "pci_0000_3b_00_0" in reasons[0]
    assert "[1].usb 046d:c52b: no USB device" in reasons[1]
    assert "2 USB devices carry these ids" in reasons[2]
    assert "[3].pci 0000:00:03.0 is already passed through to db01" in reasons[3]


def test_virtiofs_without_virtiofsd_names_the_debian_package() -> None:
    spec = replace(SPEC, filesystems=(Filesystem("/srv/share", "share", readonly=True),))
    fit = HostFit(virtiofsd=None, library_version=9_000_000, missing_sources=("/srv/share",))
    faults = refuse_host_fit(spec, fit, frozenset({"filesystems"}), "hv1")
    reasons = " | ".join(f.reason for f in faults)
    assert "install the Debian package virtiofsd (apt-get install virtiofsd" in reasons
    assert "[0].source /srv/share is no directory on hv1" in reasons
    assert "[0].readonly: libvirt 9.0.0 on hv1" in reasons
    fine = HostFit(virtiofsd="/usr/libexec/virtiofsd", library_version=11_000_000)
    assert refuse_host_fit(spec, fine, frozenset({"filesystems"}), "hv1") == []


def test_only_what_changed_is_judged_again() -> None:
    """A running VM holds its own huge pages and devices: an unrelated update is not
    refused for them; more memory on huge pages is judged again."""
    before = replace(SPEC, hugepages=2048, host_devices=(HostDevice("pci", "0000:3b:00.0"),))
    assert changed_tuning(replace(before, vcpu=1), before) == frozenset()
    assert changed_tuning(replace(before, memory_mib=2048), before) == {"hugepages"}
    assert changed_tuning(before, None) == {"hugepages", "host_devices"}


def test_usb_node_devices_and_vhost_user_descriptors_are_read() -> None:
    node = """<device><name>usb_1_2</name><capability type='usb_device'><bus>1</bus>
    <device>2</device><product id='0xc52b'>Receiver</product><vendor id='0x046d'>Logitech</vendor>
    </capability></device>"""
    assert usb_ids(node) == "046d:c52b"
    assert usb_ids("<device><capability type='usb_device'/></device>") is None
    descriptors = {
        "/etc/qemu/vhost-user/50-gpu.json": '{"type": "gpu", "binary": "/usr/libexec/gpu"}',
        "/usr/share/qemu/vhost-user/50-virtiofsd.json": (
            '{"type": "fs", "binary": "/usr/libexec/virtiofsd"}'
        ),
    }
    assert virtiofsd_binary(descriptors) == "/usr/libexec/virtiofsd"
    assert virtiofsd_binary({"/x.json": "not json"}) is None
