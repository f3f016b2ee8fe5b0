"""hostfile.claim: whose a file on a hypervisor is, from its claim sidecar (fleet spec §3, §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.disk.spec import TYPE_TOKEN as DISK_TYPE
from pulumi_vigo_vm.dynamic.claims import claimed_type
from pulumi_vigo_vm.hostfile.claim import (
    MAX_CLAIM_BYTES,
    FileOwner,
    claim_path,
    decode_claim,
    encode_claim,
    file_owner,
    not_owned,
)

OURS = "org/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoDisk::data"
OTHER = "org/urn:pulumi:prod::p::pulumi-python:dynamic/vigo:VigoDisk::data"


@pytest.mark.parametrize(
    ("exists", "recorded", "owner"),
    [
        (False, None, FileOwner.FREE),
        (False, OURS, FileOwner.FREE),  # a crashed create before the file was moved in
        (False, OTHER, FileOwner.CLAIMED),
        (True, OURS, FileOwner.OURS),  # a crashed create after it, or retain_on_delete
        (True, None, FileOwner.FOREIGN),  # never adopted
        (True, OTHER, FileOwner.FOREIGN),
    ],
)
def test_a_file_is_ours_only_when_its_sidecar_names_our_claim(
    exists: bool, recorded: str | None, owner: FileOwner
) -> None:
    assert file_owner(exists, recorded, OURS) is owner


@given(st.text(min_size=1, max_size=2048).filter(lambda s: not s.endswith("\n")))
def test_a_claim_reads_back_as_written(claim: str) -> None:
    assert decode_claim(encode_claim(claim)) == claim


@pytest.mark.parametrize("data", [b"", b"\n", b"\xff\xfe", b"x" * (MAX_CLAIM_BYTES + 1)])
def test_a_sidecar_we_could_not_have_written_names_no_claim(data: bytes) -> None:
    assert decode_claim(data) is None


def test_the_sidecar_sits_beside_the_file() -> None:
    assert claim_path("/img/disks/a.qcow2") == "/img/disks/a.qcow2.claim"


def test_refusals_name_the_path_the_other_owner_and_the_fix() -> None:
    foreign = str(not_owned("/img/disks/a.qcow2", FileOwner.FOREIGN, OTHER, OURS, "name"))
    assert "/img/disks/a.qcow2" in foreign and OTHER in foreign and "choose another name" in foreign
    claimed = str(not_owned("/img/disks/a.qcow2", FileOwner.CLAIMED, OTHER, OURS, "name"))
    assert "/img/disks/a.qcow2.claim" in claimed and "remove the sidecar" in claimed


def test_the_type_a_claim_names_tells_a_vigodisk_from_a_base_image() -> None:
    """What refuses a VigoBaseImage's file as a writable data disk: its claim's type."""
    org = "organization/urn:pulumi:dev::proj::"
    assert claimed_type(f"{org}pulumi-python:dynamic/vigo:VigoDisk::d") == DISK_TYPE
    nested = f"{org}my:Fleet$pulumi-python:dynamic/vigo:VigoBaseImage::b"
    assert claimed_type(nested) == "pulumi-python:dynamic/vigo:VigoBaseImage"
    for text in ("", "organization/", "my own notes", "urn:pulumi:dev::proj"):
        assert claimed_type(text) is None


def test_a_sidecar_of_another_state_for_our_very_names_is_refused_naming_the_conflict() -> None:
    ours, theirs = f"state:{'a' * 32}/{OURS}", f"state:{'b' * 32}/{OURS}"
    assert file_owner(True, theirs, ours) is FileOwner.FOREIGN
    assert file_owner(False, theirs, ours) is FileOwner.CLAIMED
    message = str(not_owned("/img/disks/a.qcow2", FileOwner.FOREIGN, theirs, ours, "name"))
    assert theirs in message and "in another Pulumi state" in message and ours in message
