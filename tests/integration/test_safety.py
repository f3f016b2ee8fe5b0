"""Ownership and failure safety against a real libvirtd: never touch what is not ours,
never leave orphans, refuse bad input before anything is touched."""

from __future__ import annotations

import json

import pytest
from support.disks import qemu_img
from support.lab import Lab

from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.vm.domain_xml import DomainConfig, to_xml

pytestmark = pytest.mark.libvirt


def _foreign_domain(lab: Lab, short: str) -> str:
    """A same-named domain made by someone else: no ownership marker in its metadata."""
    disk = lab.base("foreign.qcow2")
    config = DomainConfig(lab.name(short), "", 64, 1, "qemu", str(disk))
    xml = to_xml(config, "nobody").replace("<uuid />", "")
    xml = xml[: xml.index("<metadata>")] + xml[xml.index("</metadata>") + len("</metadata>") :]
    lab.conn.defineXML(xml)
    return str(lab.domain(short).XMLDesc())


def test_an_unmarked_same_named_domain_is_refused_and_left_alone(lab: Lab) -> None:
    foreign_xml = _foreign_domain(lab, "a")
    lab.vm("a")

    with pytest.raises(ProviderError, match=r"not created by pulumi_vigo_vm"):
        lab.up()

    assert lab.domain("a").XMLDesc() == foreign_xml
    assert not lab.images_dir.exists() or list(lab.images_dir.iterdir()) == []
    assert lab.harness().snapshot().program_resources() == []


def test_a_marked_domain_from_a_lost_run_is_adopted_with_its_identity(lab: Lab) -> None:
    lab.vm("a", state="defined", network_bridge=lab.bridge)
    lab.up()
    uuid = lab.domain("a").UUIDString()
    # The stack forgot the VM (a create whose checkpoint never came), the host still has it;
    # the stack's state id stays (a whole state lost is another owner: test_ownership).
    state = json.loads((lab.root / "state.json").read_text())
    state["resources"] = {u: r for u, r in state["resources"].items() if not u.endswith("::a")}
    (lab.root / "state.json").write_text(json.dumps(state))

    result = lab.up()

    assert result.ops() == {"a": "create"}
    assert lab.domain("a").UUIDString() == uuid
    assert result.outputs["a"]["uuid"] == uuid


UNALLOCATABLE_MIB = 8 * 1024 * 1024
"""8 TiB: libvirt defines such a domain; qemu's allocation fails at start on any test host."""


@pytest.mark.transport
def test_a_failed_create_leaves_no_domain_overlay_or_seed_and_a_rerun_converges(lab: Lab) -> None:
    # More memory than the host has (qemu cannot allocate it): the overlay, seed and
    # definition are made, start fails.
    lab.vm("a", memory_mib=UNALLOCATABLE_MIB, cloud_init_user_data="#cloud-config\n")

    with pytest.raises(ProviderError, match=r"[Mm]emory|allocate"):
        lab.up()

    assert lab.domain("a") is None
    assert list(lab.images_dir.iterdir()) == []
    assert lab.harness().snapshot().program_resources() == []

    lab.vm("a", network_bridge=lab.bridge, cloud_init_user_data="#cloud-config\n")
    assert lab.up().ops() == {"a": "create"}
    assert lab.power("a") == "running"


@pytest.mark.parametrize("kind", ["overlay", "data-file"])
@pytest.mark.transport
def test_a_base_that_depends_on_other_files_is_refused(lab: Lab, kind: str) -> None:
    chained = lab.root / "chained.qcow2"
    if kind == "overlay":
        qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(lab.base()), str(chained))
    else:
        qemu_img(
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            f"data_file={lab.root / 'data.raw'}",
            str(chained),
            "64M",
        )
    lab.vm("a", disk_path=str(chained))

    with pytest.raises(ProviderError, match=r"disk_path: base image .*chained.qcow2"):
        lab.up()

    assert lab.domain("a") is None
    assert not lab.images_dir.exists() or list(lab.images_dir.iterdir()) == []


@pytest.mark.transport
def test_a_missing_base_is_a_clear_error(lab: Lab) -> None:
    lab.vm("a", disk_path=str(lab.root / "nope.qcow2"))
    with pytest.raises(ProviderError, match=r"nope.qcow2 does not exist"):
        lab.up()
    assert lab.domain("a") is None
