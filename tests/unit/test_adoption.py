"""refuse_adoption and the adopting plan, from values (operations spec §1)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pulumi_vigo_vm.errors import InputError, NotOwnedError
from pulumi_vigo_vm.vm.adoption import Adoption, adoption_faults, refuse_adoption
from pulumi_vigo_vm.vm.axes import Action, plan_converge
from pulumi_vigo_vm.vm.devices import DataDisk, Nic
from pulumi_vigo_vm.vm.inputs import DiskMode
from pulumi_vigo_vm.vm.model import Observed
from pulumi_vigo_vm.vm.ownership import DomainOwner, owner_of
from pulumi_vigo_vm.vm.spec import VmSpec

from ._values import BASE_PATH, CLAIM, IDENTITY, converged, make_base, make_spec

MAC = IDENTITY.mac_address


def adopting(**changes: object) -> VmSpec:
    """A VM adopting the domain ``converged`` shows, declared as it is."""
    spec = make_spec(
        disk_mode=DiskMode.ATTACH,
        disk_size_gib=None,
        cloud_init_user_data=None,
        network_bridge=None,
        nics=(Nic("bridge", "br0", MAC),),
        adopt=IDENTITY.uuid,
    )
    return replace(spec, **changes)


def unmarked(spec: VmSpec, **changes: object) -> Observed:
    observed = converged(spec, autostart=False)
    assert observed.domain is not None
    observed = replace(observed, domain=replace(observed.domain, marked=False, claim=None))
    return replace(observed, **changes)


def refuse(spec: VmSpec, observed: Observed, busy: tuple[str, ...] = ()) -> None:
    refuse_adoption(spec, observed, owner_of(observed, spec, None), busy)


def test_a_domain_as_declared_is_adopted_marker_first_and_nothing_restarted() -> None:
    spec = adopting()
    observed = unmarked(spec)
    refuse(spec, observed)
    result = plan_converge(spec, observed, make_base(), IDENTITY, adoption=Adoption())
    assert result.actions[0] is Action.WRITE_MARKER
    assert Action.START not in result.actions and Action.SHUTDOWN not in result.actions
    assert spec.root_path == BASE_PATH


def test_a_domain_marked_by_another_owner_is_refused_naming_it() -> None:
    spec = adopting()
    other = CLAIM.replace("::web01", "::db")
    observed = unmarked(spec)
    assert observed.domain is not None
    observed = replace(observed, domain=replace(observed.domain, marked=True, claim=other))
    with pytest.raises(NotOwnedError, match="db"):
        refuse(spec, observed)


def test_a_crashed_adoption_of_this_very_resource_goes_on() -> None:
    spec = adopting()
    observed = converged(spec)  # marked with our claim: the marker was written, then a crash
    assert owner_of(observed, spec, None) is DomainOwner.OURS
    refuse(spec, observed)


@pytest.mark.parametrize(
    ("spec", "observed_changes", "match"),
    [
        (adopting(adopt="11111111-2222-4333-8444-555555555555"), {}, "has the UUID"),
        (adopting(), {"domain": None, "power": None}, "no domain named"),
    ],
    ids=["another-uuid", "no-domain"],
)
def test_another_or_no_domain_is_refused(
    spec: VmSpec, observed_changes: dict[str, object], match: str
) -> None:
    with pytest.raises(NotOwnedError, match=match):
        refuse(spec, unmarked(adopting(), **observed_changes))


def test_a_busy_domain_is_refused() -> None:
    with pytest.raises(NotOwnedError, match="a block job on vda"):
        refuse(adopting(), unmarked(adopting()), ("a block job on vda (virsh blockjob)",))


def test_every_undeclared_disk_and_nic_is_named_at_once() -> None:
    spec = adopting(data_disks=(DataDisk("/srv/data.qcow2", serial=None),))
    observed = unmarked(spec)
    with pytest.raises(InputError) as caught:
        refuse(adopting(nics=(), disk_mode=DiskMode.ATTACH), observed)
    assert [f.property for f in caught.value.faults] == ["data_disks", "nics"]
    assert "'serial': False" in caught.value.faults[0].reason


def test_the_faults_name_the_input_each_refusal_is_about() -> None:
    """The same judgement as a create's, as check failures (preview shows them)."""
    spec, observed = adopting(), unmarked(adopting())
    owner = owner_of(observed, spec, None)
    assert adoption_faults(spec, observed, owner) == []
    cases = [
        (adopting(adopt="11111111-2222-4333-8444-555555555555"), (), "adopt"),
        (spec, ("a job (virsh domjobinfo)",), "adopt"),
        (adopting(nics=()), (), "nics"),
    ]
    for wanted, busy, prop in cases:
        faults = adoption_faults(wanted, observed, owner_of(observed, wanted, None), busy)
        assert [f.property for f in faults] == [prop]
    gone = replace(observed, domain=None, power=None)
    assert [f.property for f in adoption_faults(spec, gone, DomainOwner.NONE)] == ["adopt"]


def test_an_undeclared_macvtap_nic_is_named_as_nics_declares_one() -> None:
    """the fix quotes the entry that declares it: type, dev and mode."""
    spec = adopting(nics=(Nic("direct", "eth0", MAC, mode="vepa"),))
    with pytest.raises(InputError) as caught:
        refuse(adopting(nics=()), unmarked(spec))
    (fault,) = caught.value.faults
    assert f"{{'type': 'direct', 'dev': 'eth0', 'mode': 'vepa', 'mac': '{MAC}'}}" in fault.reason
