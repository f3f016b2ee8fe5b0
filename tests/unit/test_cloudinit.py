"""cloudinit: the NoCloud seed ISO, read back with pycdlib."""

from __future__ import annotations

import io

import pycdlib
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_vigo_vm.cloudinit import SEED_VOLUME_ID, build_seed_iso, instance_id, meta_data

USER_DATA = "#cloud-config\nusers:\n  - name: ünïcødé ✓ 🚀\nruncmd: ['echo <a>&b']\n"


def open_iso(data: bytes) -> pycdlib.PyCdlib:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    return iso


def read(iso: pycdlib.PyCdlib, **path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **path)
    return out.getvalue()


def test_volume_identifier_is_cidata_in_the_primary_and_joliet_descriptors() -> None:
    iso = open_iso(build_seed_iso("web01", USER_DATA, "0123abcd"))
    assert SEED_VOLUME_ID == "cidata"
    assert iso.pvd.volume_identifier.rstrip(b" ") == b"cidata"
    assert iso.has_joliet()
    assert iso.joliet_vd.volume_identifier.decode("utf-16-be").rstrip(" ") == "cidata"


@pytest.mark.parametrize("name", ["user-data", "meta-data"])
@pytest.mark.parametrize("scheme", ["rr_path", "joliet_path"])
def test_seed_files_are_readable_by_rock_ridge_and_joliet_names(scheme: str, name: str) -> None:
    iso = open_iso(build_seed_iso("web01", USER_DATA, "0123abcd"))
    assert iso.has_rock_ridge()
    assert read(iso, **{scheme: f"/{name}"})


@pytest.mark.parametrize("scheme", ["rr_path", "joliet_path"])
def test_user_data_bytes_are_exact_including_unicode(scheme: str) -> None:
    iso = open_iso(build_seed_iso("web01", USER_DATA, "0123abcd"))
    assert read(iso, **{scheme: "/user-data"}) == USER_DATA.encode()


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=3000))
def test_any_user_data_is_carried_byte_for_byte(user_data: str) -> None:
    iso = open_iso(build_seed_iso("web01", user_data, "0123abcd"))
    assert read(iso, rr_path="/user-data") == user_data.encode()


def test_seed_holds_only_user_data_and_meta_data() -> None:
    iso = open_iso(build_seed_iso("web01", USER_DATA, "0123abcd"))
    names = {
        child.rock_ridge.name()
        for child in iso.list_children(rr_path="/")
        if child.rock_ridge is not None and not child.is_dot() and not child.is_dotdot()
    }
    assert names == {b"user-data", b"meta-data"}


@pytest.mark.parametrize(
    "vm_name",
    ["web01", "db.prod-1", "A_b", "null", "true", "yes", "off", "1234", "0123", "1e5", "0x1F"],
)
def test_meta_data_has_instance_id_and_local_hostname_as_the_vm_name(vm_name: str) -> None:
    iso = open_iso(build_seed_iso(vm_name, USER_DATA, "0123abcd"))
    document = yaml.safe_load(read(iso, rr_path="/meta-data"))
    assert set(document) == {"instance-id", "local-hostname"}
    assert document["local-hostname"] == vm_name
    assert isinstance(document["instance-id"], str) and document["instance-id"]


def test_meta_data_file_is_what_meta_data_returns() -> None:
    iso = open_iso(build_seed_iso("web01", USER_DATA, "0123abcd"))
    assert read(iso, joliet_path="/meta-data") == meta_data("web01", "0123abcd").encode()


def test_instance_id_changes_with_the_user_data_hash() -> None:
    assert instance_id("web01", "0123abcd") != instance_id("web01", "89abcdef")
    assert instance_id("web01", "0123abcd") != instance_id("web02", "0123abcd")
