"""Ownership against a real libvirtd: the marker names its owner, files are removed only when
proven ours, and two claimants of one VM never hurt each other (fleet spec §1)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import libvirt
import pytest
from support.disks import has_marker, qemu_img, sha256, write_marker
from support.lab import Lab

from pulumi_vigo_vm.stateid import TYPE_TOKEN as STATE_ID_TYPE
from pulumi_vigo_vm.testing import CheckFailedError, EngineHarness, ProviderError, RunResult
from pulumi_vigo_vm.vm.cloudinit import SeedContent, build_seed_iso
from pulumi_vigo_vm.vm.domain_xml import MARKER_NAMESPACE, MARKER_PREFIX, from_xml, marker_xml
from pulumi_vigo_vm.vm.faults import ENV_VAR
from pulumi_vigo_vm.vm.filenames import console_log_path

pytestmark = pytest.mark.libvirt


def _claim(lab: Lab, short: str) -> str | None:
    return from_xml(lab.domain(short).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).claim


def test_the_marker_names_the_state_id_and_the_resource_urn_with_its_stack(lab: Lab) -> None:
    lab.vm("a", state="defined")
    assert lab.preview().ops() == {"a": "create"}  # the claim is not known yet: no matter
    result = lab.up()

    claim = _claim(lab, "a")

    assert [s.op for s in result.steps if s.type == STATE_ID_TYPE] == ["create"]
    urn = "urn:pulumi:dev::vigo-integration::pulumi-python:dynamic/vigo:VigoVm::a"
    assert claim == f"state:{lab.harness().snapshot().state_id()}/organization/{urn}"
    assert lab.harness().snapshot().resources[urn].plain_outputs()["claim"] == claim
    assert lab.preview().counts() == {"same": 1}


def _another_backend(lab: Lab, **kwargs: Any) -> EngineHarness:
    """The very same organization/project/stack names with a state of their own: another
    backend (two local backends both say ``organization/vigo-integration/dev``)."""
    harness = lab.harness(**kwargs)
    harness.state_file = lab.root / "other-backend" / "state.json"
    harness.state_file.parent.mkdir(exist_ok=True)
    return harness


def test_the_same_names_in_another_backend_are_refused_the_vm_and_the_disk(lab: Lab) -> None:
    lab.disk("d")
    lab.vm("a", state="defined", data_disks=[{"disk": "d"}])
    lab.up()
    write_marker(lab.overlay("a"))
    disk = lab.images_dir / "disks" / f"{lab.name('d')}.qcow2"
    before = (lab.domain("a").UUIDString(), sha256(disk), (disk.parent / f"{disk.name}.claim"))
    claim_before = before[2].read_text()

    other = _another_backend(lab, raise_on_error=False)
    result = other.up()

    errors = "\n".join(str(e) for e in result.errors)
    assert "in another Pulumi state" in errors, errors
    assert "choose another" in errors, errors
    assert not [s for s in result.program_steps() if s.op != "same" and not s.failed]
    assert (lab.domain("a").UUIDString(), sha256(disk)) == before[:2]
    assert before[2].read_text() == claim_before
    assert has_marker(lab.overlay("a"))
    other.destroy()  # nothing of the first stack's is its own to remove
    assert lab.domain("a").UUIDString() == before[0] and disk.exists()
    assert lab.preview().counts() == {"same": 2}


def test_a_crashed_create_is_recognised_by_the_same_state_only(lab: Lab) -> None:
    lab.vm("a", state="defined")
    killed = r"provider process exited|Socket closed|Stream removed"  # as gRPC sees a kill
    with pytest.raises(ProviderError, match=killed):
        lab.faulty(f"kill-before:create-overlay@{lab.name('a')}").up()
    crashed = lab.domain("a")
    assert crashed is not None and lab.harness().snapshot().program_resources() == []

    with pytest.raises(ProviderError, match=r"in another Pulumi state"):
        _another_backend(lab).up()
    assert lab.up().ops() == {"a": "create"}

    assert lab.domain("a").UUIDString() == crashed.UUIDString()  # adopted, not redefined
    assert lab.outputs("a")["uuid"] == crashed.UUIDString()
    lab.assert_converged()


def _as_the_release_before(lab: Lab) -> None:
    """Turn the stack into what the release before this one left: claims without a state
    id (in state, in the domains' markers, in the disks' sidecars) and no VigoStateId."""
    state_file = lab.harness().state_file
    prefix = f"state:{lab.harness().snapshot().state_id()}/"
    text = state_file.read_text().replace(prefix, "")
    data = json.loads(text)
    ids = {urn for urn, r in data["resources"].items() if r["type"] == STATE_ID_TYPE}
    data["resources"] = {u: r for u, r in data["resources"].items() if u not in ids}
    for resource in data["resources"].values():
        resource["dependencies"] = [d for d in resource["dependencies"] if d not in ids]
        resource["property_dependencies"] = {
            k: [d for d in v if d not in ids] for k, v in resource["property_dependencies"].items()
        }
    state_file.write_text(json.dumps(data))
    for short in lab.vms:
        domain = lab.domain(short)
        assert domain is not None
        legacy = (_claim(lab, short) or "").removeprefix(prefix)
        for flags in (libvirt.VIR_DOMAIN_AFFECT_CONFIG, libvirt.VIR_DOMAIN_AFFECT_LIVE):
            if flags == libvirt.VIR_DOMAIN_AFFECT_LIVE and not domain.isActive():
                continue
            domain.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                marker_xml(legacy),
                MARKER_PREFIX,
                MARKER_NAMESPACE,
                flags,
            )
    for sidecar in (lab.images_dir / "disks").glob("*.claim"):
        sidecar.write_text(sidecar.read_text().removeprefix(prefix))


def test_a_stack_of_the_release_before_upgrades_in_place_restarting_nothing(lab: Lab) -> None:
    lab.disk("d")
    lab.vm("a", state="running", data_disks=[{"disk": "d"}])
    lab.up()
    _as_the_release_before(lab)
    legacy = _claim(lab, "a")
    assert legacy is not None and legacy.startswith("organization/urn:pulumi:")
    domain_id = lab.domain("a").ID()
    sidecar = lab.images_dir / "disks" / f"{lab.name('d')}.qcow2.claim"

    preview = lab.preview()
    assert preview.ops() == {"d": "update", "a": "update"}  # the claims are not known yet
    result = lab.up()

    assert result.ops() == {"d": "update", "a": "update"}
    assert [s.op for s in result.steps if s.type == STATE_ID_TYPE] == ["create"]
    new = f"state:{lab.harness().snapshot().state_id()}/{legacy}"
    assert _claim(lab, "a") == new
    assert sidecar.read_text().strip() == new.replace("VigoVm::a", "VigoDisk::d")
    assert lab.domain("a").ID() == domain_id, "the guest must not be restarted"
    assert lab.preview().counts() == {"same": 2}


def test_absent_for_a_vm_that_never_existed_removes_nothing(lab: Lab) -> None:
    # Files at exactly the names this VM would use, none of them ours: an overlay of the
    # same base, and a seed that even carries the instance-id this VM would give it.
    lab.images_dir.mkdir()
    base = lab.base()
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(lab.overlay("a")))
    user_data = "#cloud-config\n"
    seed_hash = hashlib.sha256(user_data.encode()).hexdigest()[:8]
    seed = lab.images_dir / f"{lab.name('a')}-seed-{seed_hash}.iso"
    seed.write_bytes(build_seed_iso(lab.name("a"), SeedContent(user_data=user_data), seed_hash))
    before = {p: sha256(p) for p in (lab.overlay("a"), seed)}
    lab.vm("a", state="absent", cloud_init_user_data=user_data)

    assert lab.up().ops() == {"a": "create"}
    lab.harness().destroy()

    assert {p: sha256(p) for p in before} == before


def test_a_base_at_the_overlay_path_is_refused_at_check(lab: Lab) -> None:
    lab.images_dir.mkdir()
    base = lab.overlay("a")
    qemu_img("create", "-q", "-f", "qcow2", str(base), "16M")
    lab.vm("a", state="absent", disk_path=str(base))

    with pytest.raises(CheckFailedError) as caught:
        lab.up()

    assert [f.property for f in caught.value.failures] == ["disk_path"]
    assert base.exists()


def test_a_second_stack_is_refused_the_first_stacks_vm_and_its_destroy_spares_it(
    lab: Lab,
) -> None:
    lab.vm("a", state="defined")
    lab.up()
    write_marker(lab.overlay("a"))
    uuid = lab.domain("a").UUIDString()

    with pytest.raises(ProviderError, match=r"belongs to .*urn:pulumi:dev::"):
        lab.harness(stack="other").up()
    lab.harness(stack="other").destroy()

    assert lab.domain("a").UUIDString() == uuid
    assert has_marker(lab.overlay("a"))
    assert lab.harness(stack="other").snapshot().program_resources() == []
    assert lab.harness().preview().counts() == {"same": 1}


@pytest.mark.transport
def test_two_creates_of_one_vm_at_once_one_wins_and_the_loser_removes_nothing(
    lab: Lab, ssh_uri: str
) -> None:
    # Two stacks, and two URIs that reach the same libvirtd; both pass observation (the
    # step hook holds each before its define), so the race is decided by libvirt itself.
    lab.vm("a", state="defined", cloud_init_user_data="#cloud-config\n")
    env = {ENV_VAR: "sleep-before:define"}
    runs = {
        "dev": lab.harness(env=env, raise_on_error=False),
        "other": lab.harness(stack="other", env=env, raise_on_error=False),
    }
    runs["other"].config["vigo:uri"] = ssh_uri if lab.uri != ssh_uri else "qemu:///system"
    results: dict[str, RunResult] = {}
    threads = [
        threading.Thread(target=lambda s=stack: results.__setitem__(s, runs[s].up()))
        for stack in runs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [s for s, r in results.items() if not r.errors]
    assert len(winners) == 1, {s: r.errors for s, r in results.items()}
    loser = next(s for s in runs if s not in winners)
    assert any(
        "two resources cannot manage one VM" in str(e) or "belongs to" in str(e)
        for e in results[loser].errors
    )
    assert _claim(lab, "a") is not None and f"urn:pulumi:{winners[0]}::" in (_claim(lab, "a") or "")
    assert lab.overlay("a").exists() and len(lab.seeds("a")) == 1
    assert runs[loser].snapshot().program_resources() == []
    assert runs[winners[0]].preview().counts() == {"same": 1}


@pytest.mark.transport
def test_console_logs_live_in_their_own_folder_and_go_with_the_vm(lab: Lab) -> None:
    lab.vm("a", state="running")
    result = lab.up()
    log = Path(console_log_path(lab.name("a")))

    assert result.outputs["a"]["observed_state"] == "running"
    assert lab.harness().snapshot().program_resources()[0].plain_outputs()[
        "console_log_path"
    ] == str(log)
    assert log.exists()

    lab.harness().destroy()

    assert not log.exists()


def test_seed_hash_and_seed_path_are_secret_in_state(lab: Lab) -> None:
    lab.vm("a", state="defined", cloud_init_user_data="#cloud-config\npassword: 123456\n")
    lab.up()

    resource = lab.harness().snapshot().program_resources()[0]

    assert {"cloud_init_user_data", "seed_hash", "seed_iso_path"} <= set(resource.secret_outputs)


@pytest.mark.transport
def test_a_vmdk_descriptor_posing_as_a_raw_base_is_refused_without_opening_what_it_names(
    lab: Lab,
) -> None:
    fifo = lab.root / "fifo"
    os.mkfifo(fifo)  # qemu-img probing the descriptor would block on this forever
    base = lab.root / "evil.img"
    base.write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        f'createType="monolithicFlat"\nRW 2048 FLAT "{fifo}" 0\n'
    )
    lab.vm("a", state="defined", disk_path=str(base))

    with pytest.raises(ProviderError, match=r"is vmdk; use a qcow2 or raw image"):
        lab.harness(timeout=120).up()

    assert lab.domain("a") is None


@pytest.mark.parametrize(
    ("field", "value", "secret"),
    [
        ("images_dir", "/var/tmp/images\ufffe", None),
        ("uri", "qemu+ssh://root:hunter2@hv1/system", "hunter2"),
    ],
)
def test_inputs_xml_or_state_cannot_hold_are_refused_at_check(
    lab: Lab, field: str, value: str, secret: str | None
) -> None:
    lab.vm("a", state="defined", **{field: value})

    with pytest.raises(CheckFailedError) as caught:
        lab.up()

    assert [f.property for f in caught.value.failures] == [field]
    if secret is not None:
        assert secret not in str(caught.value)
    assert not lab.images_dir.exists()


def test_a_rename_with_an_alias_rewrites_the_marker_in_place(lab: Lab) -> None:
    lab.vm("a", state="running")
    lab.up()
    domain_id, uuid = lab.domain("a").ID(), lab.domain("a").UUIDString()

    lab.vms["b"] = {**lab.vms.pop("a"), "_aliases": ["a"]}
    result = lab.up()

    assert result.ops() == {"b": "update"}
    assert (_claim(lab, "a") or "").endswith("VigoVm::b")
    assert (lab.domain("a").ID(), lab.domain("a").UUIDString()) == (domain_id, uuid)
    assert lab.harness().preview().counts() == {"same": 1}


def test_a_rename_without_an_alias_is_refused_with_a_hint_and_keeps_the_vm(lab: Lab) -> None:
    lab.vm("a", state="defined")
    lab.up()
    uuid = lab.domain("a").UUIDString()

    lab.vms["b"] = lab.vms.pop("a")
    with pytest.raises(ProviderError, match=r"aliases=\[pulumi.Alias\(name='a'\)\]"):
        lab.up()

    assert lab.domain("a").UUIDString() == uuid
    assert lab.overlay("a").exists()


def test_temporaries_a_killed_run_left_are_swept_and_nothing_else(lab: Lab) -> None:
    lab.images_dir.mkdir()
    overlay = lab.overlay("a").name
    dead = [f".{overlay}.0badc0de.tmp", f"..{overlay}.0badc0de.tmp.k3x_9q2a.tmp"]
    kept = [f".{overlay}.feedf00d.tmp", f".{lab.name('b')}.qcow2.0badc0de.tmp", f".{overlay}"]
    hours_ago = time.time() - 7200
    for name in dead + kept:
        (lab.images_dir / name).write_bytes(b"half")
        if name != kept[0]:  # kept[0] is being written right now by someone
            os.utime(lab.images_dir / name, (hours_ago, hours_ago))
    lab.vm("a", state="defined")

    lab.up()

    assert sorted(p.name for p in lab.images_dir.iterdir()) == sorted([overlay, *kept])


def test_two_resources_of_one_program_with_one_vm_name_get_an_error_naming_both_cases(
    lab: Lab,
) -> None:
    """No policy pack: the provider, seeing one resource at a time, tells the duplicate
    (give one another vm_name) from a rename (aliases) only in words, and names the other."""
    lab.vm("a", state="defined")
    lab.vm("b", state="defined", vm_name=lab.name("a"))

    with pytest.raises(ProviderError) as caught:
        lab.up()

    assert lab.domains() == {lab.name("a")}
    winner = (_claim(lab, "a") or "").rpartition("::")[2]  # whichever create came first
    (loser,) = {"a", "b"} - {winner}
    message = caught.value.message
    assert f"resource '{winner}' of this stack already manages vm_name {lab.name('a')!r}" in message
    assert "unique per host" in message and "give one of them another vm_name" in message
    assert f"renamed to '{loser}'" in message and f"pulumi.Alias(name='{winner}')" in message
