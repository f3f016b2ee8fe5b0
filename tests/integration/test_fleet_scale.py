"""A fleet-sized program, and the provider blob every VigoVm carries in state.

Without the package's pickler workaround (``pulumi_vigo_vm.dynamic.pickling``, pulumi#17803) the
486th declaration of a program raises ``RecursionError``. The provider's pickle holds no
secret (``VmProvider.serialize_as_secret_always = False``), so it is stored in the clear,
and a stack whose blob the previous release stored as a secret keeps updating.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from support.lab import Lab
from support.world import LOCAL_URI

from pulumi_vigo_vm.testing import EngineHarness, ResourceState
from pulumi_vigo_vm.testing.props import make_secret

pytestmark = pytest.mark.libvirt

FLEET = 1000
FLEET_PROGRAM = Path(__file__).resolve().parent / "fleet_program"
PROVIDER_KEY = "__provider"


@pytest.fixture
def local_lab(
    bridge: str, libvirt_conn: libvirt.virConnect, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A Lab on the local libvirtd only: a declaration's cost is the program's, the same
    over any transport."""
    lab = Lab.new("fleet", request.node.nodeid, uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn)
    yield from lab.lifetime()


def _fleet(lab: Lab, count: int, **template: object) -> EngineHarness:
    """The harness of ``fleet_program``: ``count`` VMs of ``template`` in ``lab``."""
    config = {
        "test:count": str(count),
        "test:prefix": lab.prefix,
        "test:vm": json.dumps({"memory_mib": 64, "vcpu": 1, **template}),
        **lab.provider_config(),
    }
    return lab.engine(FLEET_PROGRAM, config)


def test_a_thousand_vms_in_one_program_are_declared_and_checked(local_lab: Lab) -> None:
    """The program runs to its end: every VM registered, checked by a real provider and
    planned (a preview writes no checkpoint, whose cost grows with N per step)."""
    fleet = _fleet(local_lab, FLEET, disk_path=str(local_lab.base()), state="absent")

    planned = fleet.preview()

    assert planned.ok, planned.summary()
    assert planned.counts() == {"create": FLEET}
    local_lab.assert_clean()


def _vms(lab: Lab) -> list[ResourceState]:
    return [r for r in lab.harness().snapshot().ordered() if r.type.endswith("VigoVm")]


def test_the_provider_blob_is_one_plain_value_and_never_churns(lab: Lab) -> None:
    for short in ("a", "b", "c"):
        lab.vm(short, state="defined", cloud_init_user_data="#cloud-config\n")
    lab.up()

    vms = _vms(lab)
    blobs = {r.inputs[PROVIDER_KEY] for r in vms} | {r.outputs[PROVIDER_KEY] for r in vms}
    assert len(blobs) == 1 and isinstance(next(iter(blobs)), str), "a plain, shared blob"
    assert all(PROVIDER_KEY not in r.secret_inputs + r.secret_outputs for r in vms)
    assert all("cloud_init_user_data" in r.secret_inputs for r in vms), "user-data stays secret"
    assert lab.up().counts() == {"same": 3}


def _as_previous_release_wrote_it(lab: Lab) -> None:
    """Rewrite the checkpoint with every ``__provider`` a secret, as state of the previous
    release holds it."""
    state = lab.harness().state_file
    data: dict[str, Any] = json.loads(state.read_text())
    for entry in data["resources"].values():
        for bag in ("inputs", "outputs"):
            if PROVIDER_KEY in entry[bag]:
                entry[bag][PROVIDER_KEY] = make_secret(entry[bag][PROVIDER_KEY])
    state.write_text(json.dumps(data))


def test_a_stack_with_a_secret_provider_blob_still_updates(lab: Lab) -> None:
    lab.vm("a", state="defined")
    lab.up()
    _as_previous_release_wrote_it(lab)
    assert PROVIDER_KEY in _vms(lab)[0].secret_outputs

    assert lab.preview().counts() == {"same": 1}, "the blob's secrecy alone changes nothing"
    lab.vm("a", state="defined", memory_mib=96)
    assert lab.up().ops() == {"a": "update"}
    assert 'memory unit="KiB">98304<' in lab.domain("a").XMLDesc().replace("'", '"')
    assert PROVIDER_KEY not in _vms(lab)[0].secret_outputs
    assert lab.harness().destroy().counts() == {"delete": 1}
    lab.assert_clean()


def test_a_destroy_deletes_more_vms_at_once_than_the_rpc_pool_starts_with(local_lab: Lab) -> None:
    """A destroy sends the provider no Check (where an ``up`` lets the provider process serve
    more than the dynamic server's four RPCs at once): its deletes still run side by side,
    as the engine sends them (the harness: 10 at a time). Six deletes must all have reached
    their undefine together (``meet`` faults) before any goes on; with four threads the
    fifth never starts while the four wait, and they give up."""
    shorts = [f"d{index}" for index in range(6)]
    for short in shorts:
        local_lab.vm(short, state="defined")
    assert local_lab.up().ok
    meet = ",".join(f"meet-before:undefine@{local_lab.name(short)}" for short in shorts)

    result = local_lab.faulty(meet, raise_on_error=False).destroy()

    assert result.ok, result.errors[:1]
    local_lab.assert_clean()
