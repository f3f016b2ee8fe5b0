"""Builders for the pure values the unit tests feed to spec, axes and domain_xml."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pulumi_vigo_vm.hostfile.imageformat import ImageInfo
from pulumi_vigo_vm.virt.power import PowerState
from pulumi_vigo_vm.vm.axes import Identity, Observed, Recorded, ResolvedBase, desired_domain
from pulumi_vigo_vm.vm.cloudinit import SEED_VOLUME_ID, SeedIdentity, instance_id
from pulumi_vigo_vm.vm.domain_xml import LiveDomain
from pulumi_vigo_vm.vm.ownership import FileFacts
from pulumi_vigo_vm.vm.spec import BaseSource, RunState, VmSpec

GIB = 1024**3
BASE_PATH = "/var/lib/libvirt/images/base.qcow2"
IDENTITY = Identity("6f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f", "52:54:00:12:34:56")
USER_DATA = "#cloud-config\nhostname: web01\n"
STATE_ID = "5e1f" * 8
CLAIM = (
    f"state:{STATE_ID}/organization/urn:pulumi:dev::proj::pulumi-python:dynamic/vigo:VigoVm::web01"
)

VALID_PROPS: dict[str, Any] = {
    "vm_name": "web01",
    "memory_mib": 4096,
    "vcpu": 4,
    "disk_path": BASE_PATH,
    "claim": CLAIM,
}


def make_spec(**changes: Any) -> VmSpec:
    """A fully specified running VM; ``changes`` override single fields."""
    spec = VmSpec(
        vm_name="web01",
        memory_mib=4096,
        vcpu=4,
        base=BaseSource("file", BASE_PATH),
        state=RunState.RUNNING,
        disk_size_gib=30,
        network_bridge="br0",
        cloud_init_user_data=USER_DATA,
        uri="qemu:///system",
        domain_type="kvm",
        images_dir="/var/lib/libvirt/images",
        claim=CLAIM,
    )
    return replace(spec, **changes)


def make_base(**changes: Any) -> ResolvedBase:
    """The base as the host resolves it: a 10 GiB qcow2 at BASE_PATH."""
    return replace(ResolvedBase(BASE_PATH, "qcow2", 10 * GIB), **changes)


def make_recorded(spec: VmSpec, base: ResolvedBase | None = None) -> Recorded:
    """The outputs a successful create of ``spec`` on ``base`` recorded."""
    base = base or make_base()
    return Recorded(
        spec,
        base.path,
        base.format,
        base.artifact_id,
        IDENTITY,
        overlay_path=spec.overlay_path,
        seed_iso_path=spec.seed_iso_path,
    )


def power_for(state: RunState) -> PowerState:
    """The power state a converged VM in ``state`` shows."""
    return PowerState.RUNNING if state is RunState.RUNNING else PowerState.SHUTOFF


def overlay_for(spec: VmSpec, base: ResolvedBase, **changes: Any) -> ImageInfo:
    """The overlay a converged ``spec`` has on ``base``."""
    size = spec.disk_size_bytes if spec.disk_size_gib is not None else base.virtual_size
    assert size is not None
    info = ImageInfo(spec.overlay_path, "qcow2", size, base.path, base.format)
    return replace(info, **changes)


def converged(spec: VmSpec, base: ResolvedBase | None = None, **changes: Any) -> Observed:
    """What a host that fully matches ``spec`` reports; ``changes`` override single axes."""
    base = base or make_base()
    observed = Observed(
        domain=LiveDomain(desired_domain(spec, IDENTITY), marked=True, claim=spec.claim),
        power=power_for(spec.state),
        overlay=overlay_for(spec, base),
        seed_present=spec.seed_iso_path is not None,
        autostart=spec.autostarts,
    )
    return replace(observed, **changes)


NOTHING = Observed(domain=None, power=None, overlay=None, seed_present=False)
"""A host that holds nothing of the VM."""


def our_seed(spec: VmSpec) -> SeedIdentity:
    """What read_seed_identity reports for the seed ISO ``spec`` writes."""
    assert spec.seed_hash is not None
    return SeedIdentity(SEED_VOLUME_ID, instance_id(spec.vm_name, spec.seed_hash))


def host_files(spec: VmSpec, observed: Observed, *extra: str) -> FileFacts:
    """The files a host matching ``observed`` holds: the overlay and seed it reports (the
    seed being the one ``spec`` writes) and ``extra`` paths present with unknown content."""
    present = set(extra)
    seeds: dict[str, SeedIdentity | None] = {}
    if observed.overlay is not None:
        present.add(observed.overlay.path)
    if observed.seed_present and spec.seed_iso_path is not None:
        present.add(spec.seed_iso_path)
        seeds[spec.seed_iso_path] = our_seed(spec)
    return FileFacts(overlay=observed.overlay, seeds=seeds, present=frozenset(present))
