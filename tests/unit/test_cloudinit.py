"""cloudinit: the NoCloud seed ISO, read back with pycdlib."""

from __future__ import annotations

import io

import pycdlib
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_vigo_vm.vm.cloudinit import (
    SEED_VOLUME_ID,
    SeedContent,
    SeedIdentity,
    build_seed_iso,
    instance_id,
    meta_data,
    read_seed_identity,
)
from pulumi_vigo_vm.vm.guest.console import read_console, ready_marker

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
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    assert SEED_VOLUME_ID == "cidata"
    assert iso.pvd.volume_identifier.rstrip(b" ") == b"cidata"
    assert iso.has_joliet()
    assert iso.joliet_vd.volume_identifier.decode("utf-16-be").rstrip(" ") == "cidata"


@pytest.mark.parametrize("name", ["user-data", "meta-data"])
@pytest.mark.parametrize("scheme", ["rr_path", "joliet_path"])
def test_seed_files_are_readable_by_rock_ridge_and_joliet_names(scheme: str, name: str) -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    assert iso.has_rock_ridge()
    assert read(iso, **{scheme: f"/{name}"})


@pytest.mark.parametrize("scheme", ["rr_path", "joliet_path"])
def test_user_data_bytes_are_exact_including_unicode(scheme: str) -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    assert read(iso, **{scheme: "/user-data"}) == USER_DATA.encode()


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=3000))
def test_any_user_data_is_carried_byte_for_byte(user_data: str) -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=user_data), "0123abcd"))
    assert read(iso, rr_path="/user-data") == user_data.encode()


def test_seed_holds_only_user_data_and_meta_data() -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    names = {
        child.rock_ridge.name()
        for child in iso.list_children(rr_path="/")
        if child.rock_ridge is not None and not child.is_dot() and not child.is_dotdot()
    }
    assert names == {b"user-data", b"meta-data", b"vendor-data"}


@pytest.mark.parametrize(
    "vm_name",
    ["web01", "db.prod-1", "A_b", "null", "true", "yes", "off", "1234", "0123", "1e5", "0x1F"],
)
def test_meta_data_has_instance_id_and_local_hostname_as_the_vm_name(vm_name: str) -> None:
    iso = open_iso(build_seed_iso(vm_name, SeedContent(user_data=USER_DATA), "0123abcd"))
    document = yaml.safe_load(read(iso, rr_path="/meta-data"))
    assert set(document) == {"instance-id", "local-hostname"}
    assert document["local-hostname"] == vm_name
    assert isinstance(document["instance-id"], str) and document["instance-id"]


def test_meta_data_file_is_what_meta_data_returns() -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    assert read(iso, joliet_path="/meta-data") == meta_data("web01", "0123abcd").encode()


def test_instance_id_changes_with_the_user_data_hash() -> None:
    assert instance_id("web01", "0123abcd") != instance_id("web01", "89abcdef")
    assert instance_id("web01", "0123abcd") != instance_id("web02", "0123abcd")


# --- read_seed_identity: untrusted bytes at a seed path ---

SEED = build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd")


def iso_with(meta: bytes | None, label: str = "cidata") -> bytes:
    """An ISO like a seed, with ``meta`` as its meta-data file (None: no meta-data)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, rock_ridge="1.09", vol_ident=label)
    try:
        files = {"user-data": USER_DATA.encode(), **({"meta-data": meta} if meta else {})}
        for name, data in files.items():
            iso.add_fp(
                io.BytesIO(data), len(data), f"/{name.upper().replace('-', '_')}.;1", rr_name=name
            )
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()


def test_read_seed_identity_of_our_seed_is_its_label_and_instance_id() -> None:
    assert read_seed_identity(SEED) == SeedIdentity("cidata", instance_id("web01", "0123abcd"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 100,
        b"QFI\xfb\x00\x00\x00\x03" + b"\x00" * 4096,
        b"garbage" * 10000,
        b"\x00" * 32768 + b"\x01CD001\x01" + b"\xff" * 2041,
    ],
    ids=["empty", "zeros", "qcow2-header", "text", "broken-descriptor"],
)
def test_read_seed_identity_of_bytes_that_are_no_iso_is_none(data: bytes) -> None:
    assert read_seed_identity(data) is None


@pytest.mark.parametrize("size", [1, 2048, 16 * 2048, 17 * 2048, 20 * 2048, len(SEED) // 2])
def test_read_seed_identity_of_a_truncated_seed_is_none(size: int) -> None:
    assert read_seed_identity(SEED[:size]) is None


def test_iso_without_meta_data_has_no_instance_id() -> None:
    assert read_seed_identity(iso_with(None)) == SeedIdentity("cidata", None)


@pytest.mark.parametrize(
    "meta",
    [b"not json {", b"[1, 2]", b'"web01-0123abcd"', b'{"instance-id": 7}', b'{"other": "x"}'],
    ids=["not-json", "list", "string", "int-id", "no-id"],
)
def test_meta_data_without_a_string_instance_id_has_none(meta: bytes) -> None:
    assert read_seed_identity(iso_with(meta)) == SeedIdentity("cidata", None)


def test_label_is_read_as_written() -> None:
    meta = meta_data("web01", "0123abcd").encode()
    assert read_seed_identity(iso_with(meta, label="OTHER")) == SeedIdentity(
        "OTHER", instance_id("web01", "0123abcd")
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40 * 2048))
def test_read_seed_identity_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    result = read_seed_identity(data)
    assert result is None or isinstance(result, SeedIdentity)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        # mostly the volume descriptors and directory records, where parsing goes wrong
        st.tuples(
            st.integers(16 * 2048, 24 * 2048) | st.integers(0, len(SEED) - 1), st.integers(0, 255)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_read_seed_identity_never_raises_on_a_damaged_seed(edits: list[tuple[int, int]]) -> None:
    data = bytearray(SEED)
    for position, value in edits:
        data[position] = value
    result = read_seed_identity(bytes(data))
    assert result is None or isinstance(result, SeedIdentity)
    assert result is None or isinstance(result.instance_id, (str, type(None)))


def test_vendor_data_makes_cloud_init_close_with_the_ready_marker_of_this_instance() -> None:
    iso = open_iso(build_seed_iso("web01", SeedContent(user_data=USER_DATA), "0123abcd"))
    text = read(iso, rr_path="/vendor-data").decode()
    assert text.startswith("#cloud-config\n")
    final = yaml.safe_load(text)["final_message"]
    assert final.startswith("Cloud-init v. ${version} finished at ")  # the default, kept
    assert final.endswith(" " + ready_marker("web01-0123abcd"))
    rendered = final.replace("${version}", "22.4.2").replace("${datasource}", "NoCloud")
    line = f"[  103.0] cloud-init[290]: {rendered}\n".encode()
    assert read_console(b"[    0.000000] Linux version 6.1\n" + line, "web01-0123abcd").finished
