"""The spec's lifecycle table against a real libvirtd: each state, and moves between them."""

from __future__ import annotations

import pytest
from support.disks import has_marker, image_info, sha256, write_marker
from support.lab import Lab

from pulumi_vigo_vm.testing.sshd import PrivateSshd

pytestmark = pytest.mark.libvirt


@pytest.mark.parametrize(
    ("state", "power", "files"),
    [
        ("running", "running", True),
        ("stopped", "stopped", True),
        ("defined", "stopped", True),
        ("absent", "absent", False),
    ],
)
@pytest.mark.transport
def test_create_in_each_state(lab: Lab, state: str, power: str, files: bool) -> None:
    lab.vm("a", state=state, network_bridge=lab.bridge, cloud_init_user_data="#cloud-config\n")
    result = lab.up()

    assert result.ops() == {"a": "create"}
    assert lab.power("a") == power
    assert result.outputs["a"]["observed_state"] == power
    assert lab.overlay("a").exists() is files
    assert len(lab.seeds("a")) == (1 if files else 0)
    if files:
        info = image_info(lab.overlay("a"))
        assert info["backing-filename"] == str(lab.base())
        assert info["backing-filename-format"] == "qcow2"
        assert lab.overlay("a").stat().st_mode & 0o077 == 0
        assert lab.seeds("a")[0].stat().st_mode & 0o077 == 0


@pytest.mark.transport
def test_transitions_keep_every_byte_of_the_overlay(lab: Lab) -> None:
    lab.vm("a", state="stopped")
    lab.up()
    write_marker(lab.overlay("a"))
    uuid = lab.domain("a").UUIDString()

    for state, power in [
        ("running", "running"),
        ("stopped", "stopped"),
        ("running", "running"),
        ("defined", "running"),
        ("stopped", "stopped"),
        ("defined", "stopped"),
    ]:
        lab.vm("a", state=state)
        result = lab.up()
        assert result.ops() == {"a": "update"}, state
        assert lab.power("a") == power, state
        assert has_marker(lab.overlay("a")), f"overlay data lost after moving to {state}"
        assert lab.domain("a").UUIDString() == uuid


@pytest.mark.transport
def test_absent_removes_domain_overlay_and_seed_but_keeps_the_base(lab: Lab) -> None:
    base_digest = sha256(lab.base())
    lab.vm("a", cloud_init_user_data="#cloud-config\n")
    lab.up()
    lab.vm("a", state="absent", cloud_init_user_data="#cloud-config\n")

    assert lab.up().ops() == {"a": "update"}
    assert lab.power("a") == "absent"
    assert not lab.overlay("a").exists()
    assert lab.seeds("a") == []
    assert sha256(lab.base()) == base_digest

    lab.vm("a", state="running", cloud_init_user_data="#cloud-config\n")
    assert lab.up().ops() == {"a": "update"}
    assert lab.power("a") == "running"


def test_destroy_is_absent_and_keeps_the_base(lab: Lab) -> None:
    base_digest = sha256(lab.base())
    lab.vm("a", cloud_init_user_data="#cloud-config\n")
    lab.vm("b", state="defined")
    lab.up()

    result = lab.harness().destroy()

    assert sorted(result.ops().values()) == ["delete", "delete"]
    assert lab.power("a") == lab.power("b") == "absent"
    assert list(lab.images_dir.iterdir()) == []
    assert sha256(lab.base()) == base_digest


@pytest.mark.transport
def test_second_up_is_a_no_op_with_zero_host_mutations(lab: Lab) -> None:
    lab.vm("a", network_bridge=lab.bridge, cloud_init_user_data="#cloud-config\n", disk_size_gib=1)
    lab.vm("b", state="stopped")
    lab.up()
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in lab.images_dir.iterdir()}
    xml = {s: lab.domain(s).XMLDesc() for s in ("a", "b")}
    ids = {s: lab.domain(s).ID() for s in ("a", "b")}

    assert lab.preview().counts() == {"same": 2}
    assert lab.up().counts() == {"same": 2}

    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in lab.images_dir.iterdir()}
    assert after == before
    assert {s: lab.domain(s).XMLDesc() for s in ("a", "b")} == xml
    assert {s: lab.domain(s).ID() for s in ("a", "b")} == ids, "a domain was restarted"


@pytest.mark.transport
def test_pool_volume_base(lab: Lab) -> None:
    base = lab.base("pooled.qcow2")
    pool_xml = (
        f"<pool type='dir'><name>{lab.prefix}</name><target><path>{lab.root}</path></target></pool>"
    )
    pool = lab.conn.storagePoolCreateXML(pool_xml, 0)
    try:
        lab.vm("a", state="defined", disk_path=f"{lab.prefix}:pooled.qcow2")
        result = lab.up()
        assert result.ops() == {"a": "create"}
        assert image_info(lab.overlay("a"))["backing-filename"] == str(base)
        assert lab.harness().up().counts() == {"same": 1}
    finally:
        lab.harness().destroy()
        pool.destroy()


@pytest.mark.parametrize("uri", ["ssh"], indirect=True)
def test_a_run_opens_one_ssh_connection_per_host(lab: Lab, sshd: PrivateSshd) -> None:
    """Creating 20 remote VMs, and a no-op up of them, each cost one SSH connection: libvirt,
    SFTP and qemu-img share the provider's transport."""
    for index in range(20):
        lab.vm(f"s{index}", state="stopped" if index % 2 else "defined")

    before = sshd.accepted_connections()
    assert lab.harness(parallel=10).up().counts() == {"create": 20}
    after_create = sshd.accepted_connections()
    assert lab.harness(parallel=10).up().counts() == {"same": 20}

    assert (after_create - before, sshd.accepted_connections() - after_create) == (1, 1)


@pytest.mark.transport
def test_ten_concurrent_creates_on_one_host_all_succeed(lab: Lab) -> None:
    for index in range(10):
        lab.vm(f"c{index}", state="defined", cloud_init_user_data=f"#cloud-config\n# {index}\n")

    result = lab.harness(parallel=10).up()

    assert result.counts() == {"create": 10}
    for index in range(10):
        assert lab.power(f"c{index}") == "stopped"
        assert image_info(lab.overlay(f"c{index}"))["backing-filename"] == str(lab.base())
        assert len(lab.seeds(f"c{index}")) == 1
    assert lab.harness().up().counts() == {"same": 10}
