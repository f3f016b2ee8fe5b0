"""A curator artifact as a VM's base disk: resolve it, and fetch it onto the hypervisor.

Resolution is read-only (it runs during ``pulumi preview``); materialisation writes the
shared, read-only base under the artifacts root and happens only in create/update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .axes import ResolvedBase
from .curator import default_curator, materialise, platform_for_machine, resolve
from .images import usable_base
from .spec import ProviderDefaults, VmSpec

if TYPE_CHECKING:
    from .observe import Target

__all__ = ["resolve_artifact_base"]


def resolve_artifact_base(
    target: Target, spec: VmSpec, defaults: ProviderDefaults, *, materialise_now: bool
) -> ResolvedBase:
    """The artifact's base on ``target``; ``format`` is None while it is not fetched yet."""
    platform = platform_for_machine(target.hypervisor.architecture())
    curator = defaults.curator or default_curator()
    artifact = resolve(spec.base.value, curator, defaults.puddle or "", platform)
    path = artifact.path(defaults.artifacts_dir)
    if materialise_now:
        path = materialise(target.host, artifact, defaults.artifacts_dir)
    elif target.host.stat(path) is None:
        return ResolvedBase(path, None, None, artifact.artifact_id)
    info = usable_base(target.host, path, "artifact")
    return ResolvedBase.from_image(info, artifact.artifact_id)
