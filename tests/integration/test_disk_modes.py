"""Root disk modes (operations spec §2) on a real libvirtd: a ``copy`` is independent of
its base and the VM's own file; an ``attach``-ed root (a VigoDisk's path) is used as it is,
never written by the package, never removed, and attached again by a replace."""

from __future__ import annotations

import pytest
from support.disks import has_marker, image_info, write_marker
from support.lab import Lab

from pulumi_vigo_vm.testing import ProviderError

pytestmark = pytest.mark.libvirt


def test_a_copy_has_no_backing_file_runs_and_outlives_its_base(lab: Lab) -> None:
    lab.vm("a", state="running", disk_mode="copy", disk_size_gib=1)
    assert lab.up().ops() == {"a": "create"}

    info = image_info(lab.overlay("a"))
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert info["virtual-size"] == 1024**3
    assert lab.overlay("a").stat().st_blocks * 512 < 16 * 1024**2, "a copy is sparse"
    assert lab.overlay("a").stat().st_mode & 0o077 == 0
    assert lab.power("a") == "running"
    lab.vm("a", state="stopped", disk_mode="copy", disk_size_gib=1)
    lab.up()
    write_marker(lab.overlay("a"))

    lab.base().unlink()  # the base removed: nothing of the copy depends on it
    assert lab.preview().counts() == {"same": 1}
    lab.vm("a", state="running", disk_mode="copy", disk_size_gib=1)
    assert lab.up().ops() == {"a": "update"}
    assert lab.power("a") == "running"
    lab.domain("a").destroy()  # type: ignore[union-attr]
    assert has_marker(lab.overlay("a"))

    lab.harness().destroy()
    assert not lab.overlay("a").exists(), "a copy is the VM's own file"


def test_a_copy_is_never_taken_for_an_overlay_nor_an_overlay_for_a_copy(lab: Lab) -> None:
    """A file at the root's name that is not what the mode makes is left alone."""
    lab.images_dir.mkdir(parents=True, exist_ok=True)
    lab.vm("a", state="defined", disk_mode="copy")
    lab.up()
    lab.vm("a", state="defined")  # a mode change is a replace: the copy goes, an overlay comes
    result = lab.up()
    assert result.ops() == {"a": "replace"}
    assert image_info(lab.overlay("a"))["backing-filename"] == str(lab.base())


def test_an_attached_vigodisk_root_keeps_its_bytes_across_a_replace(lab: Lab) -> None:
    lab.disk("root")
    lab.vm("a", state="defined", disk_mode="attach", disk_path={"disk": "root"})
    assert lab.up().ops() == {"a": "create", "root": "create"}
    root = lab.images_dir / "disks" / f"{lab.name('root')}.qcow2"
    write_marker(root)
    assert not lab.overlay("a").exists(), "an attached root gets no overlay"

    lab.vm("a", state="defined", disk_mode="attach", disk_path={"disk": "root"}, vcpu=2)
    lab.vms["a"]["cloud_init_user_data"] = "#cloud-config\n"  # a new seed: a replace
    assert lab.up().ops() == {"a": "replace", "root": "same"}
    assert has_marker(root), "a replace attaches the same root, every byte kept"

    lab.vms.pop("a")
    assert lab.up().ops() == {"a": "delete", "root": "same"}
    assert has_marker(root), "an attached root is never removed"


def test_an_attached_root_another_domain_writes_is_refused(lab: Lab) -> None:
    lab.disk("root")
    lab.vm("a", state="defined", disk_mode="attach", disk_path={"disk": "root"})
    lab.up()
    lab.vm("b", state="defined", disk_mode="attach", disk_path={"disk": "root"})

    with pytest.raises(ProviderError, match=r"already attached writable to .*-a"):
        lab.up()
    assert lab.domain("b") is None
