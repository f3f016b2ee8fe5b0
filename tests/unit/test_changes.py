"""How a change reaches a running VM (pulumi_vigo_vm/vm/changes.py): the reference page's
table is the table, and the plan does what each row says for a change of every input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pulumi_vigo_vm.virt.power import PowerState
from pulumi_vigo_vm.vm.axes import (
    Action,
    desired_domain,
    diff,
    keep_identity,
    pending_inputs,
    plan_converge,
)
from pulumi_vigo_vm.vm.changes import TABLE, Reach, classify, readme_table
from pulumi_vigo_vm.vm.devices import DataDisk, DiskBus, Nic
from pulumi_vigo_vm.vm.domain_xml import (
    DiskDevice,
    DiskTune,
    LiveDomain,
    NicDevice,
    from_xml,
    to_xml,
)
from pulumi_vigo_vm.vm.fields import INPUTS, Change
from pulumi_vigo_vm.vm.hardware import Watchdog, WatchdogAction
from pulumi_vigo_vm.vm.inputs import BaseSource, DiskMode, Firmware, HostChange, SeedChange
from pulumi_vigo_vm.vm.model import Observed
from pulumi_vigo_vm.vm.spec import RunState, VmSpec
from pulumi_vigo_vm.vm.tuning import Filesystem, HostDevice, Numa, NumaMode

from ._values import CLAIM, IDENTITY, converged, make_base, make_recorded, make_spec

PAGE = Path(__file__).resolve().parents[2] / "docs" / "vm.md"
BASE = make_base()
DISK_B = DataDisk("/srv/disks/b.qcow2", serial="b")
DISK_C = DataDisk("/srv/disks/c.qcow2", serial="c")
L, P, R = Reach.LIVE, Reach.POWER_CYCLE, Reach.REPLACE


def test_the_reference_page_shows_the_table() -> None:
    assert readme_table() in PAGE.read_text()


def test_every_input_is_in_exactly_one_row() -> None:
    rows = [name for row in TABLE for name in row.inputs]
    assert sorted(rows) == sorted(f.name for f in INPUTS)


def test_the_rows_that_only_replace_are_the_field_table_s_replacing_inputs() -> None:
    only = {name for row in TABLE if row.reaches == (R,) for name in row.inputs}
    replacing = {f.name for f in INPUTS if f.change is Change.REPLACE or f.rule == "base"}
    assert only == replacing


def _running(spec: VmSpec) -> Observed:
    """A host that runs ``spec`` converged: the guest runs its persistent definition."""
    observed = converged(spec)
    assert observed.domain is not None
    return replace(observed, running=observed.domain.config)


def _reach(old: VmSpec, new: VmSpec) -> tuple[Reach, tuple[str, ...]]:
    """Where ``new`` lands on a host running ``old`` (diff, then the plan), and the inputs
    the plan leaves pending."""
    recorded, observed = make_recorded(old), _running(old)
    decision = diff(recorded, new, observed, BASE)
    if decision.replaces:
        return R, ()
    assert observed.domain is not None
    identity = keep_identity(new, observed.domain.config, recorded, IDENTITY)
    plan = plan_converge(new, observed, BASE, identity, recorded)
    assert decision.changed == plan.mutates or not plan.mutates, (decision, plan)
    if plan.boots:
        assert Action.SHUTDOWN in plan.actions
        return P, plan.pending
    return L, plan.pending


OTHER_CLAIM = CLAIM.replace("::web01", "::web02")
NO_NIC = {"network_bridge": None}

# (input, the old spec's fields, the new spec's fields, where the change lands)
SAMPLES: list[tuple[str, dict[str, Any], dict[str, Any], Reach]] = [
    ("vm_name", {}, {"vm_name": "web02"}, R),
    ("uri", {}, {"uri": "qemu+ssh://root@hv2.example/system"}, R),
    (
        "uri",
        {"on_host_change": HostChange.MIGRATE},
        {"on_host_change": HostChange.MIGRATE, "uri": "qemu+ssh://root@hv2.example/system"},
        L,
    ),
    ("images_dir", {}, {"images_dir": "/srv/images"}, R),
    ("disk_path", {}, {"base": BaseSource("file", "/srv/other.qcow2")}, R),
    ("artifact", {}, {"base": BaseSource("artifact", "debian-12:1.4")}, R),
    ("cloud_init_user_data", {}, {"cloud_init_user_data": "#cloud-config\n"}, R),
    ("cloud_init_vendor_data", {}, {"cloud_init_vendor_data": "#cloud-config\n"}, R),
    ("cloud_init_network_config", {}, {"cloud_init_network_config": "version: 2\n"}, R),
    ("cloud_init_meta_data", {}, {"cloud_init_meta_data": {"role": "db"}}, R),
    (
        "cloud_init_user_data",
        {"on_seed_change": SeedChange.RESEED},
        {"on_seed_change": SeedChange.RESEED, "cloud_init_user_data": "#cloud-config\n"},
        P,
    ),
    ("disk_size_gib", {}, {"disk_size_gib": 40}, L),
    ("disk_size_gib", {}, {"disk_size_gib": 20}, R),
    ("vcpu", {"max_vcpu": 8}, {"vcpu": 6, "max_vcpu": 8}, L),
    ("vcpu", {"max_vcpu": 8}, {"vcpu": 2, "max_vcpu": 8}, L),
    ("vcpu", {}, {"vcpu": 6}, P),
    ("memory_mib", {"max_memory_mib": 8192}, {"memory_mib": 6144, "max_memory_mib": 8192}, L),
    ("memory_mib", {}, {"memory_mib": 6144}, P),
    ("data_disks", {}, {"data_disks": (DISK_B,)}, L),
    ("data_disks", {"data_disks": (DISK_B, DISK_C)}, {"data_disks": (DISK_C,)}, L),
    ("data_disks", {"data_disks": (DISK_B,)}, {"data_disks": (replace(DISK_B, serial="x"),)}, P),
    ("data_disks", {}, {"data_disks": (replace(DISK_B, bus=DiskBus.SATA),)}, P),
    ("data_disks", {}, {"data_disks": (replace(DISK_B, bus=DiskBus.SCSI),)}, L),
    (
        "nics",
        {},
        {"network_bridge": None, "nics": (Nic("bridge", "br0"), Nic("network", "lab"))},
        L,
    ),
    (
        "nics",
        {"network_bridge": None, "nics": (Nic("bridge", "br0"), Nic("bridge", "br1"))},
        {"network_bridge": None, "nics": (Nic("bridge", "br0"),)},
        L,
    ),
    ("network_bridge", NO_NIC, {"network_bridge": "br0"}, L),
    ("network_bridge", {}, {"network_bridge": None}, L),
    ("network_bridge", {}, {"network_bridge": "br1"}, P),
    ("network", NO_NIC, {"network_bridge": None, "network": "lab"}, L),
    ("max_vcpu", {}, {"max_vcpu": 8}, P),
    ("max_memory_mib", {}, {"max_memory_mib": 8192}, P),
    ("domain_type", {}, {"domain_type": "qemu", "cpu_mode": "maximum"}, P),
    ("firmware", {}, {"firmware": Firmware.EFI}, P),
    ("tpm", {}, {"tpm": True}, P),
    ("cpu_mode", {}, {"cpu_mode": "host-model"}, P),
    ("machine", {}, {"machine": "q35"}, P),
    ("arch", {}, {"arch": "aarch64"}, P),
    ("state", {}, {"state": RunState.DEFINED}, L),
    ("claim", {}, {"claim": OTHER_CLAIM}, L),
    ("shutdown_timeout_s", {}, {"shutdown_timeout_s": 30}, L),
    ("wait_for", {}, {"wait_for": "ip"}, L),
    ("wait_timeout_s", {}, {"wait_timeout_s": 60}, L),
    ("address_source", {}, {"address_source": "lease"}, L),
    ("on_seed_change", {}, {"on_seed_change": SeedChange.RESEED}, L),
    ("on_host_change", {}, {"on_host_change": HostChange.MIGRATE}, L),
    ("restart_on_change", {}, {"restart_on_change": False}, L),
    ("disk_mode", {}, {"disk_mode": DiskMode.COPY}, R),
    ("autostart", {}, {"autostart": False}, L),
    ("adopt", {}, {"adopt": "0b6c4f1e-2f0a-4c55-9d3e-6a7b8c9d0e1f"}, L),
    # Hardware and tuning (operations spec §4)
    ("host_devices", {}, {"host_devices": (HostDevice("pci", "0000:3b:00.0"),)}, P),
    ("filesystems", {}, {"filesystems": (Filesystem("/srv/share", "share"),)}, P),
    ("cpu_pinning", {"vcpu": 2}, {"vcpu": 2, "cpu_pinning": ("0", "1")}, P),
    ("numa", {}, {"numa": Numa(NumaMode.STRICT, "0")}, P),
    ("hugepages", {}, {"hugepages": 2048}, P),
    ("iothreads", {}, {"iothreads": 2}, P),
    (
        "data_disks",
        {"data_disks": (DISK_B,), "iothreads": 1},
        {"data_disks": (replace(DISK_B, iothread=1),), "iothreads": 1},
        P,
    ),
    # the tuning and devices an operator sets
    ("disk_cache", {}, {"disk_cache": "none"}, P),
    ("disk_io", {"disk_cache": "none"}, {"disk_cache": "none", "disk_io": "native"}, P),
    ("disk_iops", {}, {"disk_iops": 500}, L),
    ("disk_iops", {"disk_iops": 500}, {}, L),
    ("disk_bytes_per_s", {}, {"disk_bytes_per_s": 10_000_000}, L),
    ("rng", {}, {"rng": False}, P),
    ("watchdog", {}, {"watchdog": Watchdog(action=WatchdogAction.POWEROFF)}, P),
    ("graphics", {}, {"graphics": "vnc"}, P),
    ("graphics_listen", {"graphics": "vnc"}, {"graphics": "vnc", "graphics_listen": "::1"}, P),
    (
        "graphics_password",
        {"graphics": "vnc", "graphics_password": "old"},
        {"graphics": "vnc", "graphics_password": "new"},
        P,
    ),
    ("boot_order", {}, {"boot_order": ("network", "hd")}, P),
    (
        "data_disks",
        {"data_disks": (DISK_B,)},
        {"data_disks": (replace(DISK_B, tune=DiskTune(iops=100)),)},
        L,
    ),
    (
        "data_disks",
        {"data_disks": (DISK_B,)},
        {"data_disks": (replace(DISK_B, tune=DiskTune(cache="none")),)},
        P,
    ),
    (
        "nics",
        {"network_bridge": None, "nics": (Nic("bridge", "br0"),)},
        {"network_bridge": None, "nics": (Nic("bridge", "br0", inbound=1000),)},
        P,
    ),
]


def test_every_input_has_a_sample_and_every_row_s_reach_is_shown() -> None:
    assert {name for name, *_ in SAMPLES} == {f.name for f in INPUTS}
    for row in TABLE:
        shown = {reach for name, _, _, reach in SAMPLES if name in row.inputs}
        assert shown == set(row.reaches), row.inputs


def _sample_id(sample: tuple[str, dict[str, Any], dict[str, Any], Reach]) -> str:
    name, _, new, reach = sample
    return f"{name}-{reach.name.lower()}-{'-'.join(sorted(new))}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[_sample_id(s) for s in SAMPLES])
def test_the_plan_lands_a_change_where_the_table_says(
    sample: tuple[str, dict[str, Any], dict[str, Any], Reach],
) -> None:
    name, old_fields, new_fields, expected = sample
    (row,) = (row for row in TABLE if name in row.inputs)
    assert expected in row.reaches
    old, new = make_spec(**old_fields), make_spec(**new_fields)
    assert _reach(old, new)[0] is expected
    if expected is P:  # without restart_on_change: the guest runs on, the change pending
        reach, pending = _reach(old, replace(new, restart_on_change=False))
        assert reach is L
        assert name in pending or (name == "network_bridge" and "network_bridge" in pending)


# --- restart_on_change=False ---

SPEC = make_spec(max_vcpu=8)
LATER = replace(SPEC, machine="q35", vcpu=6, restart_on_change=False)


def test_a_deferred_change_redefines_applies_what_is_live_and_leaves_the_guest_running() -> None:
    recorded, observed = make_recorded(SPEC), _running(SPEC)
    plan = plan_converge(LATER, observed, BASE, IDENTITY, recorded)
    assert plan.actions == (Action.APPLY_LIVE, Action.DEFINE)
    assert plan.live.vcpu == 6
    assert plan.pending == ("machine",)
    assert plan.domain == desired_domain(LATER, IDENTITY)


def test_after_a_deferred_change_preview_and_up_are_no_ops_and_report_it_pending() -> None:
    """The host after that up: the persistent definition is the new one, the guest still
    runs the old machine (with the vCPUs given live)."""
    before = _running(SPEC).running
    assert before is not None
    observed = replace(converged(LATER), running=replace(before, vcpu=6), power=PowerState.RUNNING)
    recorded = replace(make_recorded(LATER), pending_changes=("machine",))
    assert not diff(recorded, LATER, observed, BASE).changed
    plan = plan_converge(LATER, observed, BASE, IDENTITY, recorded)
    assert plan.actions == ()
    assert plan.pending == ("machine",)
    assert pending_inputs(LATER, observed, recorded) == ("machine",)


def test_a_power_cycle_clears_what_was_pending() -> None:
    recorded = replace(make_recorded(LATER), pending_changes=("machine",))
    stopped = replace(converged(LATER), power=PowerState.SHUTOFF, running=None)
    assert pending_inputs(LATER, stopped, recorded) == ()
    plan = plan_converge(LATER, stopped, BASE, IDENTITY, recorded)
    assert plan.actions == (Action.START,)
    assert plan.pending == ()


def test_turning_restart_on_change_back_on_restarts_a_guest_with_pending_changes() -> None:
    before = _running(SPEC).running
    assert before is not None
    observed = replace(converged(LATER), running=before)
    wanted = replace(LATER, restart_on_change=True)
    plan = plan_converge(wanted, observed, BASE, IDENTITY, make_recorded(LATER))
    assert plan.actions == (Action.SHUTDOWN, Action.START)


# --- classify: the definition field by field ---

RUNS = desired_domain(
    make_spec(max_vcpu=8, max_memory_mib=8192, data_disks=(DISK_B, DISK_C)), IDENTITY
)


def test_vcpus_and_memory_within_the_maxima_are_live() -> None:
    found = classify(RUNS, replace(RUNS, vcpu=8, memory_mib=8192))
    assert (found.live.vcpu, found.live.memory_mib, found.power_cycle) == (8, 8192, ())


def test_a_disk_removed_is_detached_and_the_others_keep_their_target() -> None:
    """The planned definition renames vdc to vdb; the guest's disk keeps vdc."""
    (kept,) = (d for d in RUNS.data_disks if d.source == DISK_C.path)
    wanted = replace(RUNS, data_disks=(replace(kept, target="vdb"),))
    found = classify(RUNS, wanted)
    assert [d.source for d in found.live.detach_disks] == [DISK_B.path]
    assert (found.live.attach_disks, found.power_cycle) == ((), ())


def test_a_disk_added_in_a_kept_disk_s_target_gets_a_free_one() -> None:
    wanted = replace(
        RUNS,
        data_disks=(
            DiskDevice(DISK_C.path, "vdb", serial="c"),
            DiskDevice("/srv/disks/d.qcow2", "vdc", serial="d"),
        ),
    )
    found = classify(RUNS, wanted)
    assert [(d.source, d.target) for d in found.live.attach_disks] == [
        ("/srv/disks/d.qcow2", "vdd")
    ]


def test_a_scsi_disk_needs_a_controller_the_guest_already_has() -> None:
    scsi = DiskDevice("/srv/disks/s.qcow2", "sdb", bus="scsi")
    no_seed = replace(RUNS, seed_iso_path=None)
    assert classify(no_seed, replace(no_seed, data_disks=(scsi,))).power_cycle == ("data_disks",)
    assert classify(RUNS, replace(RUNS, data_disks=(*RUNS.data_disks, scsi))).live.attach_disks


def test_nics_are_added_and_removed_by_mac_and_a_changed_one_waits() -> None:
    other = NicDevice("network", "lab", "52:54:00:00:00:02")
    found = classify(RUNS, replace(RUNS, nics=(*RUNS.nics, other)))
    assert found.live.attach_nics == (other,)
    assert classify(RUNS, replace(RUNS, nics=())).live.detach_nics == RUNS.nics
    moved = (replace(RUNS.nics[0], source="br9"),)
    assert classify(RUNS, replace(RUNS, nics=moved)).power_cycle == ("nics",)


# --- the maxima in the definition ---


def test_maxima_are_written_and_read_back() -> None:
    xml = to_xml(RUNS, CLAIM)
    assert '<vcpu placement="static" current="4">8</vcpu>' in xml
    assert '<currentMemory unit="MiB">4096</currentMemory>' in xml
    assert from_xml(xml).config == RUNS


def test_a_vm_of_the_previous_release_reads_back_as_its_spec_asks_for_it() -> None:
    """No maxima given: the definition is the previous release's (no ``current``, no
    ``<currentMemory>``) and reads back equal, so nothing is redefined."""
    spec = make_spec()
    wanted = desired_domain(spec, IDENTITY)
    xml = to_xml(wanted, CLAIM)
    assert "current=" not in xml and "currentMemory" not in xml
    assert from_xml(xml).config == wanted
    assert LiveDomain(wanted, True, CLAIM) == converged(spec).domain


def test_io_limits_change_in_the_running_guest_by_target_and_cache_waits_for_a_cycle() -> None:
    """virDomainSetBlockIoTune changes a disk's limits live; its cache and IO mode only
    a power cycle brings."""
    old = make_spec(data_disks=(DISK_B,))
    new = replace(old, disk_bytes_per_s=4096, data_disks=(replace(DISK_B, tune=DiskTune(iops=50)),))
    have, want = (desired_domain(s, IDENTITY) for s in (old, new))
    found = classify(have, want)
    assert found.power_cycle == ()
    assert found.live.io_limits == (
        ("vda", DiskTune(bytes_per_s=4096)),
        ("vdb", DiskTune(iops=50)),
    )
    cached = desired_domain(replace(new, disk_cache="none"), IDENTITY)
    assert classify(have, cached).power_cycle == ("root_tune",)
