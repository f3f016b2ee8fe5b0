"""A curator artifact as a VM's base disk: resolve it, and fetch it onto the hypervisor.

Resolution is read-only (it runs during ``pulumi preview``); fetching writes the shared,
read-only base under the artifacts root and is an executor step (``Action.FETCH_BASE``),
run only in create/update.
"""

from __future__ import annotations

from ..curator.materialise import materialise
from ..curator.platform import platform_for_machine
from ..curator.resolve import ResolvedArtifact, resolve
from ..curator.store import default_curator
from ..hostfile.images import usable_base
from ..spec import ProviderDefaults
from ..virt.target import Target
from .model import ResolvedBase
from .spec import VmSpec

__all__ = ["fetch_artifact_base", "resolve_artifact_base"]


def _resolve(target: Target, spec: VmSpec, defaults: ProviderDefaults) -> ResolvedArtifact:
    # The blob for the domain's arch: the host's own unless `arch` asks for another.
    platform = platform_for_machine(spec.arch or target.hypervisor.architecture())
    curator = defaults.curator or default_curator()
    return resolve(spec.base.value, curator, defaults.puddle or "", platform)


def resolve_artifact_base(target: Target, spec: VmSpec, defaults: ProviderDefaults) -> ResolvedBase:
    """The artifact's base on ``target``; ``format`` is None while it is not fetched yet."""
    artifact = _resolve(target, spec, defaults)
    path = artifact.path(defaults.artifacts_dir)
    if target.host.stat(path) is None:
        return ResolvedBase(path, None, None, artifact.artifact_id)
    return ResolvedBase.from_image(usable_base(target.host, path, "artifact"), artifact.artifact_id)


def fetch_artifact_base(target: Target, spec: VmSpec, defaults: ProviderDefaults) -> ResolvedBase:
    """Fetch the artifact onto ``target`` (streamed, verified) and return it as a base."""
    artifact = _resolve(target, spec, defaults)
    path = materialise(target.host, artifact, defaults.artifacts_dir)
    return ResolvedBase.from_image(usable_base(target.host, path, "artifact"), artifact.artifact_id)
