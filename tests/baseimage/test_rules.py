"""The rules of a file on a hypervisor: adoption and refusal of what is found at the path,
updates in place refused while a domain uses the file, replaces created first, destroy
refused while in use, the hypervisor downloading by itself, and a full disk."""

from __future__ import annotations

import lzma
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.disks import SPELLINGS, another_name

from .bench import Bench, sha256
from .server import Route

pytestmark = pytest.mark.libvirt


def _serve_both(bench: Bench, images: dict[str, bytes]) -> tuple[str, str]:
    return (
        bench.server.serve("/a/base.qcow2", Route(body=images["a"])),
        bench.server.serve("/b/base.qcow2", Route(body=images["b"])),
    )


@pytest.mark.transport
def test_an_identical_file_at_the_path_is_adopted_without_a_download(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url, _ = _serve_both(bench, images)
    bench.bases_dir.mkdir(parents=True)
    (bench.bases_dir / "base.qcow2").write_bytes(images["a"])
    bench.image("base", source=url, sha256=sha256(images["a"]))

    result = bench.up()

    assert result.ops() == {"base": "create"}
    assert bench.server.hits["/a/base.qcow2"] == 0
    assert bench.files() == {"base.qcow2", "base.qcow2.claim", "base.qcow2.sha256"}

    bench.harness().destroy()  # adopted: ours now

    assert bench.files() == set()


def test_the_same_names_in_another_backend_are_refused_the_file_even_when_identical(
    bench: Bench, images: dict[str, bytes]
) -> None:
    """Two states with identical organization/project/stack/resource names: the second
    never adopts (nor, on destroy, removes) the first's base, though its content matches."""
    url, _ = _serve_both(bench, images)
    bench.image("base", source=url, sha256=sha256(images["a"]))
    bench.up()
    placed = bench.bases_dir / "base.qcow2"
    before = {name: (bench.bases_dir / name).read_bytes() for name in bench.files()}
    other = bench.harness(raise_on_error=False)
    other.state_file = bench.root / "other-backend" / "state.json"

    error = "\n".join(str(e) for e in other.up().errors)

    assert "in another Pulumi state" in error and "choose another path" in error, error
    other.destroy()
    assert {name: (bench.bases_dir / name).read_bytes() for name in bench.files()} == before
    assert placed.exists() and bench.harness().preview().counts() == {"same": 1}


def test_a_compressed_source_is_compared_by_its_decompressed_digest(
    bench: Bench, images: dict[str, bytes]
) -> None:
    packed = lzma.compress(images["a"])
    url = bench.server.serve("/x/base.qcow2.xz", Route(body=packed))
    bench.bases_dir.mkdir(parents=True)
    placed = bench.bases_dir / "base.qcow2"
    placed.write_bytes(images["a"])
    mtime = placed.stat().st_mtime_ns
    bench.image("base", source=url, sha256=sha256(packed))

    bench.up()

    assert placed.stat().st_mtime_ns == mtime  # compared, not rewritten
    assert bench.server.hits["/x/base.qcow2.xz"] == 1


def test_a_different_file_at_the_path_is_refused_untouched(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url, _ = _serve_both(bench, images)
    bench.bases_dir.mkdir(parents=True)
    theirs = bench.bases_dir / "base.qcow2"
    theirs.write_bytes(images["b"])
    bench.image("base", source=url, sha256=sha256(images["a"]))

    error = bench.failing()

    assert f"{theirs} already exists" in error and "left untouched" in error
    assert theirs.read_bytes() == images["b"]
    assert bench.files() == {"base.qcow2"}


def test_a_changed_digest_is_an_update_refused_while_a_domain_uses_the_file(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url_a, url_b = _serve_both(bench, images)
    path = str(bench.bases_dir / "shared.qcow2")
    bench.image("base", source=url_a, sha256=sha256(images["a"]), path=path)
    bench.up()
    bench.plain_domain("plain", Path(path))

    bench.image("base", source=url_b, sha256=sha256(images["b"]), path=path)
    preview = bench.harness().preview()
    error = bench.failing()

    assert preview.ops() == {"base": "update"}
    assert f"{path} is in use by {bench.lab.name('plain')}" in error
    assert "point new VMs at a new path" in error
    assert Path(path).read_bytes() == images["a"]
    assert bench.server.hits["/b/base.qcow2"] == 0  # refused before downloading

    destroy_error = bench.failing("destroy")

    assert bench.lab.name("plain") in destroy_error
    assert Path(path).read_bytes() == images["a"]

    bench.undefine("plain")
    result = bench.up()

    assert result.ops() == {"base": "update"}
    assert Path(path).read_bytes() == images["b"]
    assert result.outputs["base"]["virtual_size_bytes"] == 32 << 20


@pytest.mark.parametrize("how", SPELLINGS)
@pytest.mark.transport
def test_an_overlay_backing_onto_the_base_by_another_name_refuses_update_and_destroy(
    bench: Bench, images: dict[str, bytes], how: str
) -> None:
    url_a, url_b = _serve_both(bench, images)
    path = bench.bases_dir / "shared.qcow2"
    bench.image("base", source=url_a, sha256=sha256(images["a"]), path=str(path))
    bench.up()
    bench.plain_domain("plain", Path(another_name(bench.root, path, how)))

    bench.image("base", source=url_b, sha256=sha256(images["b"]), path=str(path))
    assert f"{path} is in use by {bench.lab.name('plain')}" in bench.failing()
    assert bench.lab.name("plain") in bench.failing("destroy")
    assert path.read_bytes() == images["a"]


def test_a_vm_on_the_base_is_never_replaced_for_a_digest_change(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url_a, url_b = _serve_both(bench, images)
    bench.image("base", source=url_a, sha256=sha256(images["a"]))
    bench.vm("vm", base="base")
    first = bench.up()
    uuid = first.outputs["vm"]["uuid"]

    bench.image("base", source=url_b, sha256=sha256(images["b"]))
    preview = bench.harness().preview()
    error = bench.failing()

    assert preview.ops() == {"base": "update", "vm": "same"}
    assert f"in use by {bench.lab.name('vm')}" in error
    assert bench.lab.domain("vm").UUIDString() == uuid  # type: ignore[union-attr]
    assert (bench.bases_dir / "base.qcow2").read_bytes() == images["a"]

    bench.harness().destroy()  # the VM goes first, then its base

    assert bench.lab.domain("vm") is None
    assert bench.files() == set()


def test_a_changed_path_is_a_replace_created_first_whose_old_file_stays_while_used(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url, _ = _serve_both(bench, images)
    old = bench.bases_dir / "one.qcow2"
    new = bench.bases_dir / "two.qcow2"
    bench.image("base", source=url, sha256=sha256(images["a"]), path=str(old))
    bench.up()
    bench.plain_domain("plain", old)

    bench.image("base", source=url, sha256=sha256(images["a"]), path=str(new))
    error = bench.failing()

    assert new.read_bytes() == images["a"]  # created first
    assert old.read_bytes() == images["a"]  # its delete refused
    assert f"{old} is in use by {bench.lab.name('plain')}" in error

    bench.undefine("plain")
    result = bench.up()

    assert not old.exists() and new.exists()
    assert bench.files() == {"two.qcow2", "two.qcow2.claim", "two.qcow2.sha256"}
    assert result.ok


@pytest.mark.transport
def test_the_hypervisor_downloads_by_itself_with_fetch_on_host(
    bench: Bench, images: dict[str, bytes]
) -> None:
    packed = lzma.compress(images["a"])
    url = bench.server.serve("/h/base.img.xz", Route(body=packed))
    bench.image("base", source=url, sha256=sha256(packed), fetch_on="host")

    result = bench.up()

    assert (bench.bases_dir / "base.img").read_bytes() == images["a"]
    assert bench.server.hits["/h/base.img.xz"] == 1
    assert result.outputs["base"]["format"] == "qcow2"
    assert bench.up().ops() == {"base": "same"}
    assert bench.server.hits["/h/base.img.xz"] == 1


@pytest.mark.parametrize("route", ["missing", "truncate", "wrong-digest"])
@pytest.mark.transport
def test_a_failed_download_on_the_host_leaves_nothing(
    bench: Bench, images: dict[str, bytes], route: str
) -> None:
    served = Route(body=images["a"]) if route == "wrong-digest" else Route(route, images["a"])  # type: ignore[arg-type]
    url = bench.server.serve("/h/base.qcow2", served)
    digest = sha256(images["b"] if route == "wrong-digest" else images["a"])
    bench.image("base", source=url, sha256=digest, fetch_on="host")

    error = bench.failing()

    assert url in error
    assert bench.files() == set()


@pytest.fixture
def small_disk(bench: Bench) -> Iterator[Path]:
    """A 1 MiB tmpfs in the bench's world: a disk that fills up."""
    mount = bench.root / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("fetch_on", ["runner", "host"])
@pytest.mark.transport
def test_a_full_disk_leaves_nothing(bench: Bench, small_disk: Path, fetch_on: str) -> None:
    body = bytes(range(256)) * (12 << 12)  # 3 MiB of raw image, three times the disk
    url = bench.server.serve("/big/disk.raw", Route(body=body))
    target = small_disk / "bases" / "disk.raw"
    bench.image("base", source=url, sha256=sha256(body), path=str(target), fetch_on=fetch_on)

    error = bench.failing()

    assert "space" in error.lower()
    assert bench.files(target.parent) == set()


def test_a_new_uri_reaching_the_same_host_keeps_the_file_its_replacement_took_over(
    bench: Bench, images: dict[str, bytes], ssh_uri: str
) -> None:
    """From qemu:///system to qemu+ssh: one run crosses both transports."""
    url, _ = _serve_both(bench, images)
    bench.image("base", source=url, sha256=sha256(images["a"]))
    bench.up()

    bench.image("base", source=url, sha256=sha256(images["a"]), uri=ssh_uri)
    result = bench.up()

    assert result.ops() == {"base": "replace"}
    assert not result.step("base").delete_before_replace  # created first
    placed = bench.bases_dir / "base.qcow2"
    assert placed.read_bytes() == images["a"]  # the old instance's delete kept it
    assert bench.server.hits["/a/base.qcow2"] == 1  # and the new one downloaded nothing

    bench.harness().destroy()

    assert bench.files() == set()


@pytest.mark.transport
def test_refresh_reports_a_vanished_file_as_gone_and_leaves_owner_drift_alone(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url, _ = _serve_both(bench, images)
    bench.image("base", source=url, sha256=sha256(images["a"]))
    bench.up()
    placed = bench.bases_dir / "base.qcow2"
    os.chown(placed, 65534, 65534)  # what libvirt's security driver may do at a VM's start

    bench.harness().refresh()

    assert bench.harness().preview().ops() == {"base": "same"}  # reported, not fought
    assert placed.stat().st_uid == 65534

    placed.unlink()
    bench.harness().refresh()

    assert all(res.name != "base" for res in bench.harness().snapshot().ordered())
