"""ownership: whose a same-named domain is, and which files a VM may remove (fleet spec §1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.common.tempnames import TEMPORARY_MAX_AGE_S, stale_temporaries
from pulumi_vigo_vm.errors import NotOwnedError
from pulumi_vigo_vm.hostfile.imageformat import ImageInfo
from pulumi_vigo_vm.vm.cloudinit import SeedIdentity, instance_id
from pulumi_vigo_vm.vm.domain_xml import LiveDomain
from pulumi_vigo_vm.vm.filenames import CONSOLE_LOG_DIR, console_log_path
from pulumi_vigo_vm.vm.ownership import (
    Candidates,
    DomainOwner,
    FileFacts,
    Recorded,
    domain_owner,
    removable_files,
    removal_candidates,
    require_ours,
)
from pulumi_vigo_vm.vm.spec import VmSpec

from ._values import (
    BASE_PATH,
    CLAIM,
    IDENTITY,
    converged,
    make_base,
    make_recorded,
    make_spec,
    our_seed,
    overlay_for,
)

SPEC = make_spec()
OTHER_CLAIM = "organization/urn:pulumi:prod::other::pulumi-python:dynamic/vigo:VigoVm::web01"
OTHER_UUID = "11111111-2222-4333-8444-555555555555"
IMAGES = "/var/lib/libvirt/images"
OVERLAY = SPEC.overlay_path


def _seed_path(spec: VmSpec) -> str:
    assert spec.seed_iso_path is not None
    return spec.seed_iso_path


SEED = _seed_path(SPEC)
LOG = console_log_path("web01")
LEGACY_LOG = "/var/log/libvirt/qemu/web01-console.log"
OLD_SEED = f"{IMAGES}/web01-seed-00c0ffee.iso"


def live(marked: bool = True, claim: str | None = CLAIM, **config: Any) -> LiveDomain:
    """SPEC's converged domain with the given marker and definition fields."""
    domain = converged(SPEC).domain
    assert domain is not None
    return replace(domain, marked=marked, claim=claim, config=replace(domain.config, **config))


# --- console_log_path ---


def test_console_logs_live_in_a_folder_of_their_own() -> None:
    assert f"{CONSOLE_LOG_DIR}/web01.console.log" == LOG
    assert not LOG.startswith("/var/log/libvirt/qemu/")


# --- domain_owner ---


def test_no_domain_is_nobodys() -> None:
    assert domain_owner(None, CLAIM, IDENTITY.uuid) is DomainOwner.NONE
    assert domain_owner(None, None, None) is DomainOwner.NONE


def test_domain_marked_with_our_claim_is_ours() -> None:
    assert domain_owner(live(), CLAIM, None) is DomainOwner.OURS
    assert domain_owner(live(uuid=OTHER_UUID), CLAIM, IDENTITY.uuid) is DomainOwner.OURS


@pytest.mark.parametrize(
    ("marked", "claim"),
    [(False, None), (True, None), (True, OTHER_CLAIM), (True, CLAIM)],
    ids=["unmarked", "unclaimed", "legacy", "renamed"],
)
def test_domain_with_the_recorded_uuid_is_ours_whatever_its_marker_in_our_state(
    marked: bool, claim: str | None
) -> None:
    """v1's marker named no owner, the release before named no state; a renamed resource's
    claim changed within its state."""
    renamed = CLAIM.replace("::web01", "::web01-renamed")
    assert domain_owner(live(marked, claim), renamed, IDENTITY.uuid) is DomainOwner.OURS
    if claim is None or claim == OTHER_CLAIM:  # a marker with no state id
        assert domain_owner(live(marked, claim), None, IDENTITY.uuid) is DomainOwner.OURS


@pytest.mark.parametrize("recorded_uuid", [None, OTHER_UUID], ids=["no-recorded", "other-uuid"])
def test_unmarked_domain_is_unmarked(recorded_uuid: str | None) -> None:
    assert domain_owner(live(False, None), CLAIM, recorded_uuid) is DomainOwner.UNMARKED


def test_claim_attribute_without_the_marker_does_not_count() -> None:
    assert domain_owner(live(False, CLAIM), CLAIM, None) is DomainOwner.UNMARKED


@pytest.mark.parametrize("recorded_uuid", [None, OTHER_UUID], ids=["no-recorded", "other-uuid"])
@pytest.mark.parametrize("claim", [CLAIM, None], ids=["our-claim", "no-claim"])
def test_marker_of_the_previous_release_without_our_uuid_is_unclaimed(
    recorded_uuid: str | None, claim: str | None
) -> None:
    assert domain_owner(live(True, None), claim, recorded_uuid) is DomainOwner.UNCLAIMED


@pytest.mark.parametrize("recorded_uuid", [None, OTHER_UUID], ids=["no-recorded", "other-uuid"])
@pytest.mark.parametrize("claim", [OTHER_CLAIM, None], ids=["other-claim", "no-claim"])
def test_marker_naming_another_claim_is_other(recorded_uuid: str | None, claim: str | None) -> None:
    assert domain_owner(live(True, CLAIM), claim, recorded_uuid) is DomainOwner.OTHER


def test_empty_recorded_uuid_matches_nothing() -> None:
    assert domain_owner(live(False, None, uuid=""), CLAIM, "") is DomainOwner.UNMARKED


def test_claims_are_compared_exactly() -> None:
    for near in (CLAIM.upper(), CLAIM + " ", CLAIM[:-1], CLAIM.replace("dev", "prod")):
        assert domain_owner(live(True, near), CLAIM, None) is DomainOwner.OTHER


_OWNER = CLAIM.split("/", 1)[1]
LEGACY_CLAIM = _OWNER  # the release before: no state id
ANOTHER_STATE = f"state:{'0' * 32}/{_OWNER}"  # the same names, in another stack's state
CLAIMS = [CLAIM, OTHER_CLAIM, LEGACY_CLAIM, ANOTHER_STATE]


@given(
    marked=st.booleans(),
    live_claim=st.none() | st.sampled_from(CLAIMS),
    claim=st.none() | st.sampled_from(CLAIMS),
    recorded_uuid=st.none() | st.sampled_from(["", IDENTITY.uuid, OTHER_UUID]),
)
def test_domain_is_ours_by_a_marker_naming_our_claim_or_our_recorded_uuid_unless_another_state(
    marked: bool, live_claim: str | None, claim: str | None, recorded_uuid: str | None
) -> None:
    owner = domain_owner(live(marked, live_claim), claim, recorded_uuid)
    by_uuid = recorded_uuid == IDENTITY.uuid
    by_claim = marked and claim is not None and live_claim == claim
    states = {CLAIM: "ours", ANOTHER_STATE: "theirs"}
    their_state = states.get(live_claim or "")
    by_another_state = marked and their_state is not None and states.get(claim or "") != their_state
    assert (owner is DomainOwner.OURS) == (by_claim or (by_uuid and not by_another_state))
    assert owner is not DomainOwner.NONE


def test_a_marker_of_another_state_for_our_very_names_is_refused_naming_the_conflict() -> None:
    domain = live(True, ANOTHER_STATE)
    assert domain_owner(domain, CLAIM, None) is DomainOwner.OTHER
    assert domain_owner(domain, CLAIM, IDENTITY.uuid) is DomainOwner.OTHER  # both recorded it
    message = not_owned_message(DomainOwner.OTHER, domain)
    assert ANOTHER_STATE in message and "in another Pulumi state" in message


def test_a_legacy_marker_is_ours_only_through_our_recorded_uuid() -> None:
    domain = live(True, LEGACY_CLAIM)
    assert domain_owner(domain, CLAIM, IDENTITY.uuid) is DomainOwner.OURS  # the upgrade
    assert domain_owner(domain, CLAIM, None) is DomainOwner.OTHER  # the hole, closed
    message = not_owned_message(DomainOwner.OTHER, domain)
    assert "earlier release" in message and "remove it and run again" in message


# --- require_ours ---


@pytest.mark.parametrize("owner", [DomainOwner.NONE, DomainOwner.OURS])
def test_require_ours_accepts_no_domain_and_our_domain(owner: DomainOwner) -> None:
    require_ours(owner, live(), SPEC)
    require_ours(owner, None, SPEC)


def not_owned_message(owner: DomainOwner, domain: LiveDomain) -> str:
    with pytest.raises(NotOwnedError) as caught:
        require_ours(owner, domain, SPEC)
    message = str(caught.value)
    assert message.startswith("vm_name: ")
    assert "'web01'" in message and SPEC.uri in message
    assert "choose another vm_name" in message
    return message


def test_unmarked_domain_is_refused_as_not_made_by_us() -> None:
    message = not_owned_message(DomainOwner.UNMARKED, live(False, None))
    assert "not created by pulumi_vigo_vm" in message


def test_unclaimed_domain_is_refused_as_an_earlier_releases_for_another_owner() -> None:
    message = not_owned_message(DomainOwner.UNCLAIMED, live(True, None))
    assert "earlier pulumi_vigo_vm" in message
    assert "did not record" in message


def test_domain_of_another_claim_is_refused_naming_that_claim() -> None:
    message = not_owned_message(DomainOwner.OTHER, live(True, OTHER_CLAIM))
    assert f"belongs to {OTHER_CLAIM}" in message
    assert CLAIM not in message


@pytest.mark.parametrize("owner", [DomainOwner.UNMARKED, DomainOwner.UNCLAIMED, DomainOwner.OTHER])
def test_require_ours_without_a_live_domain_refuses_nothing(owner: DomainOwner) -> None:
    require_ours(owner, None, SPEC)


# --- removal_candidates ---


def recorded(**changes: Any) -> Recorded:
    return replace(make_recorded(SPEC), **changes)


def test_no_domain_and_nothing_recorded_gives_no_candidates() -> None:
    candidates = removal_candidates(SPEC, None, None)
    assert candidates == Candidates((), (), (), frozenset())
    assert candidates.all == ()


def test_no_domain_and_nothing_recorded_ignores_running_logs_too() -> None:
    assert removal_candidates(SPEC, None, None, [LOG, LEGACY_LOG]).all == ()


def test_our_domain_vouches_for_the_files_it_references() -> None:
    candidates = removal_candidates(SPEC, live(), None)
    assert candidates.overlays == (OVERLAY,)
    assert candidates.seeds == (SEED,)
    assert candidates.logs == (LOG,)
    assert candidates.by_domain == frozenset({OVERLAY, SEED, LOG})


def test_recorded_outputs_vouch_for_the_files_they_name() -> None:
    candidates = removal_candidates(SPEC, None, recorded(console_log_path=LEGACY_LOG))
    assert candidates.overlays == (OVERLAY,)
    assert candidates.seeds == (SEED,)
    assert candidates.logs == (LEGACY_LOG,)
    assert candidates.by_domain == frozenset()


def test_running_guests_log_is_a_candidate_vouched_for_by_the_domain() -> None:
    candidates = removal_candidates(SPEC, live(), None, [LEGACY_LOG, None])
    assert set(candidates.logs) == {LOG, LEGACY_LOG}
    assert LEGACY_LOG in candidates.by_domain


def test_domain_and_recorded_seeds_of_different_user_data_are_both_candidates() -> None:
    candidates = removal_candidates(SPEC, live(seed_iso_path=OLD_SEED), recorded())
    assert candidates.seeds == tuple(sorted({OLD_SEED, SEED}))
    assert len(candidates.all) == len(set(candidates.all))


@pytest.mark.parametrize(
    "path",
    [
        "/etc/shadow",
        f"{IMAGES}/base.qcow2",
        f"{IMAGES}/web02.qcow2",
        "/srv/vms/web01.qcow2",
        "/srv/vms/web01-seed-0123abcd.iso",
        f"{IMAGES}/web011-seed-0123abcd.iso",
        f"{IMAGES}/web01-seed-0123ABCD.iso",
        f"{IMAGES}/web01-seed-0123abc.iso",
        f"{IMAGES}/web01-seed-0123abcd0.iso",
        f"{IMAGES}/web01-seed-0123abcd.iso.bak",
        f"{IMAGES}/sub/web01-seed-0123abcd.iso",
        "/var/log/libvirt/qemu/web01.log",
        "/var/log/libvirt/qemu/web02-console.log",
        f"{CONSOLE_LOG_DIR}/web02.console.log",
    ],
)
def test_paths_outside_this_vms_own_file_names_are_never_candidates(path: str) -> None:
    """Whatever the domain or the outputs name, only the VM's own names are inspected."""
    domain = live(overlay_path=path, seed_iso_path=path, console_log_path=path)
    rec = recorded(overlay_path=path, seed_iso_path=path, console_log_path=path)
    assert path not in removal_candidates(SPEC, domain, rec, [path]).all


# --- removable_files ---

QCOW2_OVERLAY = overlay_for(SPEC, make_base())


def facts(
    overlay: ImageInfo | None = QCOW2_OVERLAY,
    seeds: dict[str, SeedIdentity | None] | None = None,
    present: set[str] | None = None,
) -> FileFacts:
    """A host with the overlay, our seed and both logs present unless told otherwise."""
    seeds = {SEED: our_seed(SPEC)} if seeds is None else seeds
    if present is None:
        present = {OVERLAY, *seeds, LOG, LEGACY_LOG} if overlay is not None else {*seeds, LOG}
    return FileFacts(overlay=overlay, seeds=seeds, present=frozenset(present))


def removable(
    domain: LiveDomain | None,
    rec: Recorded | None,
    host: FileFacts,
    spec: VmSpec = SPEC,
    running_logs: tuple[str | None, ...] = (),
    keep: tuple[str | None, ...] = (),
) -> set[str]:
    candidates = removal_candidates(spec, domain, rec, running_logs)
    result = removable_files(spec, candidates, host, rec, keep)
    assert len(result) == len(set(result))
    return set(result)


def test_files_our_domain_references_are_removable() -> None:
    assert removable(live(), None, facts()) == {OVERLAY, SEED, LOG}


def test_files_the_outputs_name_are_removable() -> None:
    assert removable(None, recorded(), facts()) == {OVERLAY, SEED}


def test_no_domain_and_nothing_recorded_removes_nothing() -> None:
    everything = {OVERLAY, SEED, OLD_SEED, LOG, LEGACY_LOG}
    host = facts(seeds={SEED: our_seed(SPEC), OLD_SEED: our_seed(SPEC)}, present=everything)
    assert removable(None, None, host) == set()


def test_missing_files_are_not_removed() -> None:
    assert removable(live(), recorded(), facts(present=set())) == set()


@pytest.mark.parametrize("domain", [True, False], ids=["by-domain", "by-outputs"])
@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_base_like_file_without_backing_at_the_overlay_path_is_never_removed(
    domain: bool, fmt: str
) -> None:
    base_like = ImageInfo(OVERLAY, fmt, 10 * 1024**3)
    host = facts(overlay=base_like, present={OVERLAY})
    assert removable(live() if domain else None, recorded(), host) == set()


def test_overlay_that_cannot_be_read_is_kept() -> None:
    assert OVERLAY not in removable(live(), recorded(), facts(overlay=None, present={OVERLAY}))


def test_overlay_vouched_for_only_by_the_outputs_must_be_on_the_recorded_base() -> None:
    elsewhere = replace(QCOW2_OVERLAY, backing_file="/srv/someone-elses-base.qcow2")
    assert OVERLAY not in removable(None, recorded(), facts(overlay=elsewhere))
    assert OVERLAY not in removable(None, recorded(base_path=None), facts())


def test_overlay_our_domain_references_is_removable_whatever_it_is_backed_by() -> None:
    elsewhere = replace(QCOW2_OVERLAY, backing_file="/srv/older-base.qcow2")
    assert OVERLAY in removable(live(), recorded(), facts(overlay=elsewhere))


def test_recorded_base_is_never_removed_even_at_the_overlay_path() -> None:
    host = facts(overlay=replace(QCOW2_OVERLAY, backing_file="/srv/backing.qcow2"))
    assert OVERLAY not in removable(live(), recorded(base_path=OVERLAY), host)


def test_the_base_itself_is_never_a_removal() -> None:
    rec = recorded(overlay_path=BASE_PATH, seed_iso_path=BASE_PATH, console_log_path=BASE_PATH)
    domain = live(overlay_path=BASE_PATH, seed_iso_path=BASE_PATH, console_log_path=BASE_PATH)
    host = facts(present={BASE_PATH, OVERLAY, SEED})
    assert BASE_PATH not in removable(domain, rec, host, running_logs=(BASE_PATH,))


@pytest.mark.parametrize(
    "identity",
    [
        None,
        SeedIdentity("cidata", None),
        SeedIdentity("cidata", "web01-00c0ffee"),
        SeedIdentity("cidata", "web02-" + (SPEC.seed_hash or "")),
        SeedIdentity("cidata", instance_id("web01", SPEC.seed_hash or "") + " "),
        SeedIdentity("CDROM", instance_id("web01", SPEC.seed_hash or "")),
        SeedIdentity("", instance_id("web01", SPEC.seed_hash or "")),
    ],
    ids=[
        "not-an-iso",
        "no-instance-id",
        "other-hash",
        "other-vm",
        "near-instance-id",
        "wrong-label",
        "no-label",
    ],
)
def test_seed_with_the_wrong_label_or_instance_id_is_kept(identity: SeedIdentity | None) -> None:
    host = facts(seeds={SEED: identity})
    assert SEED not in removable(live(), recorded(), host)
    assert removable(live(), recorded(), host) == {OVERLAY, LOG}


def test_seed_label_is_compared_without_case() -> None:
    identity = replace(our_seed(SPEC), volume_id="CIDATA")
    assert SEED in removable(live(), None, facts(seeds={SEED: identity}))


def test_seed_of_older_user_data_named_by_the_domain_is_removed_on_its_own_hash() -> None:
    old = SeedIdentity("cidata", instance_id("web01", "00c0ffee"))
    host = facts(seeds={OLD_SEED: old}, present={OVERLAY, OLD_SEED})
    assert removable(live(seed_iso_path=OLD_SEED), None, host) == {OVERLAY, OLD_SEED}


def test_seed_matched_only_by_the_name_pattern_is_never_removed() -> None:
    """Ours by name and content, but neither the domain nor the outputs name it."""
    old = SeedIdentity("cidata", instance_id("web01", "00c0ffee"))
    host = facts(seeds={SEED: our_seed(SPEC), OLD_SEED: old}, present={OVERLAY, SEED, OLD_SEED})
    assert OLD_SEED not in removable(live(), recorded(), host)
    assert OLD_SEED not in removable(None, recorded(), host)


def test_seed_not_read_is_kept() -> None:
    """Only the identities observe_files read count: a candidate missing from them is kept."""
    assert SEED not in removable(live(), recorded(), facts(seeds={}, present={OVERLAY, SEED}))


def test_console_log_only_at_one_of_our_log_names_and_only_when_named() -> None:
    assert removable(live(), None, facts()) & {LOG, LEGACY_LOG} == {LOG}
    with_legacy = removable(live(), None, facts(), running_logs=(LEGACY_LOG,))
    assert with_legacy & {LOG, LEGACY_LOG} == {LOG, LEGACY_LOG}
    assert removable(None, recorded(), facts()) & {LOG, LEGACY_LOG} == set()
    rec = recorded(console_log_path=LEGACY_LOG)
    assert removable(None, rec, facts()) & {LOG, LEGACY_LOG} == {LEGACY_LOG}


def test_keep_excludes_files_still_wanted() -> None:
    kept = removable(live(), recorded(), facts(), keep=(SEED, None, OVERLAY))
    assert kept == {LOG}


def test_vm_without_user_data_removes_no_seed() -> None:
    spec = make_spec(cloud_init_user_data=None)
    domain = converged(spec).domain
    host = facts(seeds={SEED: our_seed(SPEC)}, present={OVERLAY, SEED})
    assert removable(domain, make_recorded(spec), host, spec=spec) == {OVERLAY}


def test_stale_temporaries_are_only_old_hidden_tokens_of_our_own_names() -> None:
    now = 10_000.0
    old = now - TEMPORARY_MAX_AGE_S - 1
    entries = {
        ".web01.qcow2.1a2b3c4d.tmp": old,
        "..web01-seed-0a1b2c3d.iso.1a2b3c4d.tmp.abc_123x.tmp": old,
        ".web01.qcow2.1a2b3c4d.tmp.extra": old,
        ".web01.qcow2.5e6f7a8b.tmp": now - 5,
        ".web011.qcow2.1a2b3c4d.tmp": old,
        "web01.qcow2": old,
    }
    finals = ["web01.qcow2", "web01-seed-0a1b2c3d.iso"]

    stale = stale_temporaries("/images", finals, entries, now)

    assert stale == (
        "/images/..web01-seed-0a1b2c3d.iso.1a2b3c4d.tmp.abc_123x.tmp",
        "/images/.web01.qcow2.1a2b3c4d.tmp",
    )
