"""A VM moved to another host (on_host_change="migrate"): the diff's answer and every
precondition judged before anything moves (vm/move_plan.py, pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pulumi_vigo_vm.common.hostcaps import DomainCaps, HostCpu, HostIdentity, HostPlatform
from pulumi_vigo_vm.errors import HostError, MoveError
from pulumi_vigo_vm.provider import _replacing_while_unknown
from pulumi_vigo_vm.virt.power import PowerState
from pulumi_vigo_vm.vm.axes import desired_domain, diff
from pulumi_vigo_vm.vm.domain_xml import LiveDomain
from pulumi_vigo_vm.vm.inputs import DiskMode, Firmware, HostChange
from pulumi_vigo_vm.vm.move_plan import MoveFacts, OwnFile, Way, own_paths, plan_move

from ._values import CLAIM, IDENTITY, converged, make_recorded, make_spec

OLD_URI, NEW_URI = "qemu:///system", "qemu+ssh://root@198.18.0.2/system"
SOURCE = make_spec(cpu_mode="host-model", on_host_change=HostChange.MIGRATE)
MOVED = replace(SOURCE, uri=NEW_URI)
CPU = HostCpu("x86_64", "AMD", "EPYC", frozenset({"avx2", "sse4.2"}))
CAPS = DomainCaps(True, True, True, frozenset({"host-passthrough", "host-model", "maximum"}))
DOMAIN = LiveDomain(desired_domain(SOURCE, IDENTITY), marked=True, claim=CLAIM)
DIGEST = "ab" * 32


def facts(**changes: Any) -> MoveFacts:
    """Two unlike hosts where everything a move needs holds."""
    found = MoveFacts(
        source_uri=OLD_URI,
        source=HostIdentity("uuid-a", CPU),
        target=HostIdentity("uuid-b", CPU),
        platform=HostPlatform("x86_64", "x86_64", True, CAPS),
        source_domain=DOMAIN,
        source_power=PowerState.RUNNING,
        target_domain=None,
        files=tuple(OwnFile(p, 1 << 20) for p in own_paths(DOMAIN)),
        base_path="/var/lib/libvirt/images/base.qcow2",
        source_base=DIGEST,
        target_base=DIGEST,
        free_bytes=10 << 30,
    )
    return replace(found, **changes)


def test_a_uri_change_is_a_replace_by_default_and_an_update_with_migrate() -> None:
    stay = make_spec()
    assert diff(make_recorded(stay), replace(stay, uri=NEW_URI)).replaces == ("uri",)
    decision = diff(make_recorded(SOURCE), MOVED)
    assert decision.replaces == () and decision.updates == ("uri",)
    assert not decision.delete_before_replace


def test_a_move_with_another_replacing_change_is_a_replace() -> None:
    decision = diff(make_recorded(SOURCE), replace(MOVED, vm_name="web02"))
    assert decision.replaces == ("vm_name",) and decision.delete_before_replace


def test_a_vm_of_the_previous_release_keeps_replace_and_sees_no_diff() -> None:
    """State written before on_host_change existed parses to its default: no change."""
    old = make_spec()
    assert old.on_host_change is HostChange.REPLACE
    assert not diff(make_recorded(old), old, converged(old)).changed


def test_an_unknown_uri_in_preview_replaces_unless_the_vm_migrates() -> None:
    assert _replacing_while_unknown({}, ["uri"]) == ["uri"]
    assert _replacing_while_unknown({"on_host_change": "migrate"}, ["uri"]) == []


def test_a_running_vm_moves_live_and_a_stopped_one_cold() -> None:
    assert plan_move(MOVED, IDENTITY.uuid, facts()).way is Way.LIVE
    stopped = facts(source_power=PowerState.SHUTOFF)
    assert plan_move(MOVED, IDENTITY.uuid, stopped).way is Way.COLD


def test_our_domain_already_on_the_target_finishes_the_move() -> None:
    """A run cut off after the target had the domain: only the source's copy is left."""
    there = facts(target_domain=DOMAIN, source_power=PowerState.SHUTOFF)
    assert plan_move(MOVED, IDENTITY.uuid, there).way is Way.FINISH
    gone = facts(target_domain=DOMAIN, source_domain=None, source_power=None)
    assert plan_move(MOVED, IDENTITY.uuid, gone).way is Way.FINISH


def test_nothing_of_ours_on_either_host_is_nothing_to_move() -> None:
    nothing = facts(source_domain=None, source_power=None)
    assert plan_move(MOVED, IDENTITY.uuid, nothing).way is Way.NOTHING


def test_two_uris_of_one_host_are_refused_naming_both() -> None:
    same = facts(target=HostIdentity("uuid-a", CPU))
    with pytest.raises(MoveError, match="reach the same host") as raised:
        plan_move(MOVED, IDENTITY.uuid, same)
    assert OLD_URI in str(raised.value) and NEW_URI in str(raised.value)


def test_another_domain_of_that_name_on_the_target_is_refused() -> None:
    other = LiveDomain(replace(DOMAIN.config, uuid="0" * 8), marked=True, claim="other")
    with pytest.raises(MoveError, match="is not this VM: remove or rename it"):
        plan_move(MOVED, IDENTITY.uuid, facts(target_domain=other))


def test_defined_on_the_target_while_running_on_the_source_is_refused() -> None:
    with pytest.raises(MoveError, match="cut off between the two"):
        plan_move(MOVED, IDENTITY.uuid, facts(target_domain=DOMAIN))


def test_a_missing_base_is_refused_naming_the_vigobaseimage_to_add() -> None:
    with pytest.raises(MoveError, match="add a VigoBaseImage on that host") as raised:
        plan_move(MOVED, IDENTITY.uuid, facts(target_base=None))
    assert "disk_path" in str(raised.value) and NEW_URI in str(raised.value)


def test_another_image_at_the_base_path_is_refused() -> None:
    with pytest.raises(MoveError, match="is another image"):
        plan_move(MOVED, IDENTITY.uuid, facts(target_base="cd" * 32))


def test_a_copy_needs_no_base_on_the_target() -> None:
    copy = replace(MOVED, disk_mode=DiskMode.COPY)
    assert plan_move(copy, IDENTITY.uuid, facts(base_path=None, target_base=None)).way is Way.LIVE


def test_host_passthrough_between_unlike_cpus_is_refused_naming_what_differs() -> None:
    passthrough = replace(MOVED, cpu_mode="host-passthrough")
    other = HostCpu("x86_64", "AMD", "EPYC", frozenset({"sse4.2"}))
    with pytest.raises(MoveError, match="features missing there: avx2"):
        plan_move(passthrough, IDENTITY.uuid, facts(target=HostIdentity("uuid-b", other)))
    assert plan_move(passthrough, IDENTITY.uuid, facts()).way is Way.LIVE
    # host-model: libvirt checks the guest's CPU against the target itself
    plan_move(MOVED, IDENTITY.uuid, facts(target=HostIdentity("uuid-b", other)))


def test_a_target_that_cannot_run_the_domain_is_refused_naming_the_package() -> None:
    no_efi = replace(CAPS, efi=False)
    efi = replace(MOVED, firmware=Firmware.EFI)
    with pytest.raises(HostError, match="firmware: no UEFI firmware"):
        plan_move(
            efi, IDENTITY.uuid, facts(platform=HostPlatform("x86_64", "x86_64", True, no_efi))
        )


def test_data_disks_missing_at_the_same_path_are_refused_naming_them() -> None:
    with pytest.raises(MoveError, match=r"/srv/data\.qcow2 not on .* at the same path"):
        plan_move(MOVED, IDENTITY.uuid, facts(unshared=("/srv/data.qcow2",)))


def test_a_foreign_file_at_an_own_path_on_the_target_is_refused() -> None:
    path = DOMAIN.config.overlay_path
    foreign = (OwnFile(path, 1, present=True, claim=None),)
    with pytest.raises(MoveError, match="is not this VM's"):
        plan_move(MOVED, IDENTITY.uuid, facts(files=foreign))
    used = (OwnFile(path, 1, present=True, claim=CLAIM, used_by=("db1",)),)
    with pytest.raises(MoveError, match=r"used by db1"):
        plan_move(MOVED, IDENTITY.uuid, facts(files=used))


def test_our_unused_leftover_on_the_target_is_removed_before_the_retry() -> None:
    path = DOMAIN.config.overlay_path
    leftover = (OwnFile(path, 1, present=True, claim=CLAIM),)
    assert plan_move(MOVED, IDENTITY.uuid, facts(files=leftover)).leftovers == (path,)


def test_too_little_free_space_is_refused_naming_both_amounts() -> None:
    with pytest.raises(MoveError, match=r"has 1\.0 MiB free, the move of web01 needs 2\.0 MiB"):
        plan_move(MOVED, IDENTITY.uuid, facts(free_bytes=1 << 20))


def test_a_stopped_vm_with_a_tpm_is_refused_naming_the_live_way() -> None:
    tpm = replace(MOVED, tpm=True)
    with pytest.raises(MoveError, match="so it moves live"):
        plan_move(tpm, IDENTITY.uuid, facts(source_power=PowerState.SHUTOFF))
    assert plan_move(tpm, IDENTITY.uuid, facts()).way is Way.LIVE


def test_a_cpu_is_alike_only_when_model_vendor_and_features_are() -> None:
    assert CPU.differences(CPU) == ()
    other = HostCpu("x86_64", "Intel", "Skylake", CPU.features | {"avx512f"})
    assert CPU.differences(other) == (
        "vendor AMD vs Intel",
        "model EPYC vs Skylake",
        "features only there: avx512f",
    )


def test_a_vm_holding_snapshots_is_refused_naming_them() -> None:
    """They would block the source's undefine after the VM moved: refused before."""
    with pytest.raises(MoveError, match=r"holds snapshots on qemu:///system \(before-upgrade\)"):
        plan_move(MOVED, IDENTITY.uuid, facts(snapshots=("before-upgrade",)))
