"""usage: which files a domain references (pure parsing) and how one listing answers "in use"."""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Collection

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.hostfile.disk_refs import DiskRef, disk_refs
from pulumi_vigo_vm.hostfile.usage import DiskUse, HostUsage, Identify, domain_uses, identified
from pulumi_vigo_vm.hosts.base import FileId, Inode


def _domain(*disks: str) -> str:
    return f"<domain type='qemu'><name>d</name><devices>{''.join(disks)}</devices></domain>"


FILE_DISK = (
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/disks/a.qcow2'/><target dev='vdb' bus='virtio'/></disk>"
)


def test_a_file_disk_is_a_writable_reference_with_its_target_and_format() -> None:
    assert disk_refs(_domain(FILE_DISK)) == (
        DiskRef("/var/lib/disks/a.qcow2", None, None, "vdb", "qcow2", True),
    )


def test_block_devices_and_pool_volumes_are_references_too() -> None:
    refs = disk_refs(
        _domain(
            "<disk type='block' device='disk'><source dev='/dev/vg/data'/>"
            "<target dev='vdc'/></disk>",
            "<disk type='volume' device='disk'><driver type='raw'/>"
            "<source pool='default' volume='v1'/><target dev='vdd'/></disk>",
        )
    )
    assert refs == (
        DiskRef("/dev/vg/data", None, None, "vdc", None, True),
        DiskRef(None, "default", "v1", "vdd", "raw", True),
    )


@pytest.mark.parametrize(
    "disk",
    [
        "<disk type='file' device='cdrom'><source file='/iso/seed.iso'/></disk>",
        "<disk type='file' device='disk'><source file='/iso/seed.iso'/><readonly/></disk>",
        "<disk type='file' device='disk'><source file='/iso/seed.iso'/><shareable/></disk>",
    ],
)
def test_cdroms_readonly_and_shareable_disks_are_not_writable(disk: str) -> None:
    (ref,) = disk_refs(_domain(disk))
    assert ref.path == "/iso/seed.iso"
    assert ref.writable is False


@pytest.mark.parametrize(
    "disk",
    [
        "<disk type='file' device='cdrom'><target dev='sda'/></disk>",  # an empty tray
        "<disk type='network' device='disk'><source protocol='nbd' name='x'>"
        "<host name='198.18.0.1'/></source></disk>",
        "<disk type='file' device='disk'><source file='relative.qcow2'/></disk>",
        "<disk type='volume' device='disk'><source pool='default'/></disk>",
    ],
)
def test_what_names_no_local_file_is_no_reference(disk: str) -> None:
    assert disk_refs(_domain(disk)) == ()


def test_paths_are_kept_as_written_for_the_host_to_resolve() -> None:
    # x may be a symlink: then x/.. is not /var/lib, and only the host can tell.
    (ref,) = disk_refs(_domain("<disk type='file'><source file='/var//lib/./x/../a.raw'/></disk>"))
    assert ref.path == "/var//lib/./x/../a.raw"


def test_interfaces_and_other_devices_are_ignored() -> None:
    xml = _domain(
        "<interface type='network'><source network='default'/></interface>",
        "<filesystem><source dir='/srv'/></filesystem>",
        FILE_DISK,
    )
    assert [r.path for r in disk_refs(xml)] == ["/var/lib/disks/a.qcow2"]


def test_what_is_not_xml_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a domain definition"):
        disk_refs("<domain>")


@given(st.text(alphabet="abc/._-", min_size=1, max_size=30))
def test_any_absolute_source_parses_back_as_written(tail: str) -> None:
    disk = ET.Element("disk", type="file")
    ET.SubElement(disk, "source", file="/" + tail)
    xml = _domain(ET.tostring(disk, encoding="unicode"))
    (ref,) = disk_refs(xml)
    assert ref.path == "/" + tail


def _no_pool(_pool: str, _volume: str) -> str | None:
    return None


def _no_chain(_path: str, _fmt: str | None) -> tuple[str, ...]:
    return ()


def _ref(path: str | None, *, writable: bool = True, fmt: str | None = "qcow2") -> DiskRef:
    return DiskRef(path, None, None, "vdb", fmt, writable)


def test_backing_chain_members_are_read_only_indirect_uses() -> None:
    chains = {"/d/top.qcow2": ("/d/mid.qcow2", "/d/base.raw")}
    uses = domain_uses(
        "vm1", [_ref("/d/top.qcow2")], None, _no_pool, lambda p, _f: chains.get(p, ())
    )
    assert uses == (
        DiskUse("vm1", "/d/base.raw", False, False, False, "/d/base.raw"),
        DiskUse("vm1", "/d/mid.qcow2", False, False, False, "/d/mid.qcow2"),
        DiskUse("vm1", "/d/top.qcow2", True, False, True, "/d/top.qcow2"),
    )


def test_a_file_in_both_definitions_is_one_active_use() -> None:
    uses = domain_uses(
        "vm1",
        [_ref("/d/a.qcow2", writable=False)],
        [_ref("/d/a.qcow2"), _ref("/d/hot.raw", fmt="raw")],
        _no_pool,
        _no_chain,
    )
    assert uses == (
        DiskUse("vm1", "/d/a.qcow2", True, True, True, "/d/a.qcow2"),
        DiskUse("vm1", "/d/hot.raw", True, True, True, "/d/hot.raw"),
    )


def test_pool_volumes_are_resolved_to_their_paths_and_unknown_ones_dropped() -> None:
    refs = [
        DiskRef(None, "p", "v", "vdb", "raw", True),
        DiskRef(None, "p", "gone", None, None, True),
    ]
    volumes = {("p", "v"): "/pool/v"}
    uses = domain_uses("vm1", refs, None, lambda p, v: volumes.get((p, v)), _no_chain)
    assert [u.path for u in uses] == ["/pool/v"]


def test_the_chain_is_asked_with_the_disks_declared_format() -> None:
    asked: list[tuple[str, str | None]] = []

    def chain(path: str, fmt: str | None) -> tuple[str, ...]:
        asked.append((path, fmt))
        return ()

    domain_uses("vm1", [_ref("/d/a.raw", fmt="raw")], None, _no_pool, chain)
    assert asked == [("/d/a.raw", "raw")]


def _listing() -> HostUsage:
    a = domain_uses("a", [_ref("/d/x.qcow2")], None, _no_pool, lambda *_: ("/d/base.qcow2",))
    b = domain_uses("b", [_ref("/d/base.qcow2", writable=False)], None, _no_pool, _no_chain)
    return HostUsage("qemu:///system", {"a": a, "b": b})


def test_users_of_a_file_are_every_domain_that_references_it_in_any_spelling() -> None:
    usage = _listing()
    assert usage.domains_using("/d/base.qcow2") == ("a", "b")
    assert usage.domains_using("/d/./x.qcow2") == ("a",)
    assert usage.users("/d/other.qcow2") == ()


def test_noted_defines_and_undefines_change_the_listing_and_leave_the_old_one() -> None:
    usage = _listing()
    changed = usage.with_domain("c", [DiskUse("c", "/d/x.qcow2", True, False, True, "/d/x.qcow2")])
    assert changed.domains_using("/d/x.qcow2") == ("a", "c")
    assert changed.without_domain("a").domains_using("/d/x.qcow2") == ("c",)
    assert usage.domains_using("/d/x.qcow2") == ("a",)


DISK, BASE = Inode(2049, 100), Inode(2049, 7)
HOST_FILES: dict[str, FileId] = {
    "/d/disk.qcow2": DISK,
    "/srv/link.qcow2": DISK,  # a symlink to it
    "/srv/x/../disk.qcow2": DISK,  # x a symlink to /d/sub: its .. is /d, not /srv
    "/mnt/bind/disk.qcow2": DISK,  # /d bind-mounted
    "/d/hard.qcow2": DISK,  # a hard link
    "/d/base.qcow2": BASE,
    "/srv/base-link.qcow2": BASE,
}


def _host(asked: list[Collection[str]]) -> Identify:
    """The host's answers as a table (Host.file_ids against real files is in
    tests/disks/test_usage_listing.py): a path it does not list names no file."""

    def identify(paths: Collection[str]) -> dict[str, FileId]:
        asked.append(paths)
        return {p: HOST_FILES.get(p, posixpath.normpath(p)) for p in paths}

    return identify


def _identified_listing(asked: list[Collection[str]]) -> HostUsage:
    identify = _host(asked)
    spelled = {
        "a": domain_uses(
            "a", [_ref("/srv/link.qcow2")], None, _no_pool, lambda *_: ("/srv/base-link.qcow2",)
        ),
        "b": domain_uses(
            "b", [_ref("/srv/x/../disk.qcow2", writable=False)], None, _no_pool, _no_chain
        ),
        "bind": domain_uses("bind", [_ref("/mnt/bind/disk.qcow2")], None, _no_pool, _no_chain),
        "c": domain_uses("c", [_ref("/d/hard.qcow2")], None, _no_pool, _no_chain),
        "d": domain_uses("d", [_ref("/d/gone.qcow2")], None, _no_pool, _no_chain),
    }
    files = identify({use.path for uses in spelled.values() for use in uses})
    return HostUsage("qemu:///system", identified(spelled, files), identify)


def test_a_file_is_in_use_by_every_spelling_of_it_symlink_dotdot_bind_path_hard_link() -> None:
    usage = _identified_listing([])

    assert usage.domains_using("/d/disk.qcow2") == ("a", "b", "bind", "c")
    assert usage.domains_using("/srv/link.qcow2") == ("a", "b", "bind", "c")  # any spelling
    assert [(u.domain, u.path, u.writable) for u in usage.users("/d/disk.qcow2")] == [
        ("a", "/srv/link.qcow2", True),
        ("b", "/srv/x/../disk.qcow2", False),
        ("bind", "/mnt/bind/disk.qcow2", True),
        ("c", "/d/hard.qcow2", True),
    ]
    assert usage.domains_using("/srv/disk.qcow2") == ()  # the string's reading of b's path
    assert usage.domains_using("/d/base.qcow2") == ("a",)  # a backing file named via a link


def test_a_file_that_does_not_exist_is_compared_by_its_normalised_path() -> None:
    usage = _identified_listing([])

    assert usage.domains_using("/d/./gone.qcow2") == ("d",)
    assert usage.domains_using("/srv/gone.qcow2") == ()
    assert usage.domains_using("/d/other.qcow2") == ()


def test_one_file_named_twice_by_a_domain_is_one_use_writable_if_either_is() -> None:
    uses = domain_uses(
        "vm1",
        [_ref("/srv/link.qcow2", writable=False), _ref("/d/hard.qcow2")],
        None,
        _no_pool,
        lambda *_: ("/d/disk.qcow2",),
    )
    (use,) = identified({"vm1": uses}, _host([])({u.path for u in uses}))["vm1"]
    assert (use.writable, use.direct, use.file) == (True, True, DISK)


def test_a_listing_asks_the_host_once_for_its_paths_and_once_per_path_asked_about() -> None:
    asked: list[Collection[str]] = []
    usage = _identified_listing(asked)
    assert len(asked) == 1  # every domain's paths in one question

    for _ in range(3):
        usage.users("/srv/link.qcow2")  # named by the listing: answered from it
        usage.users("/d/disk.qcow2")
    assert [sorted(paths) for paths in asked[1:]] == [["/d/disk.qcow2"]]


def test_two_names_that_normalise_alike_but_name_two_files_stay_two_uses() -> None:
    uses = domain_uses(
        "vm1", [_ref("/srv/x/../disk.qcow2"), _ref("/srv/disk.qcow2")], None, _no_pool, _no_chain
    )
    found = identified({"vm1": uses}, _host([])({u.path for u in uses}))["vm1"]
    assert sorted((u.path, u.file) for u in found) == [
        ("/srv/disk.qcow2", "/srv/disk.qcow2"),
        ("/srv/x/../disk.qcow2", DISK),
    ]
