"""Read what a host holds for one VM, and resolve its base disk. Reads only, never writes.

This is everything ``diff`` and ``read`` need, and what ``create``/``update`` plan from,
so ``pulumi preview`` can compare against the live host without mutating it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .axes import Observed, ResolvedBase
from .domain_xml import from_xml
from .errors import ImageError
from .hosts import Host, host_for_uri
from .hypervisor import Hypervisor
from .images import overlay_info, usable_base
from .spec import ProviderDefaults, VmSpec

__all__ = ["Target", "observe", "resolve_base", "seed_paths"]


@dataclass(frozen=True)
class Target:
    """A hypervisor as two views: files and commands (``host``) and libvirt (``hypervisor``)."""

    host: Host
    hypervisor: Hypervisor

    @classmethod
    def for_uri(cls, uri: str) -> Target:
        return cls(host_for_uri(uri), Hypervisor(uri))


def seed_paths(host: Host, spec: VmSpec) -> list[str]:
    """Every seed ISO of this VM in images_dir, whatever user-data it was built from."""
    pattern = re.compile(re.escape(spec.seed_iso_prefix) + r"[0-9a-f]{8}\.iso")
    names = sorted(n for n in host.listdir(spec.images_dir) if pattern.fullmatch(n))
    return [posixpath.join(spec.images_dir, name) for name in names]


def observe(target: Target, spec: VmSpec) -> Observed:
    """The four axes as the host reports them for ``spec``'s VM."""
    guest = target.hypervisor.lookup(spec.vm_name)
    domain = from_xml(guest.xml()) if guest is not None else None
    power = guest.power_state() if guest is not None else None
    seeds = seed_paths(target.host, spec)
    return Observed(
        domain=domain,
        power=power,
        overlay=overlay_info(target.host, spec.overlay_path),
        seed_present=spec.seed_iso_path in seeds,
        stale_seeds=tuple(path for path in seeds if path != spec.seed_iso_path),
    )


def resolve_base(
    target: Target, spec: VmSpec, defaults: ProviderDefaults, *, materialise: bool
) -> ResolvedBase:
    """Find the base disk on the host (and check it is usable as a backing file).

    An artifact is resolved against the curator; with ``materialise`` it is also fetched
    onto the host (the one write this module allows, and only when asked: never in diff).
    """
    base = spec.base
    if base.kind == "file":
        return ResolvedBase.from_image(usable_base(target.host, base.value, "disk_path"))
    if base.kind == "pool":
        pool, volume = base.pool_volume
        path = target.hypervisor.pool_volume_path(pool, volume)
        if path is None:
            raise ImageError(
                f"disk_path: storage volume {volume!r} in pool {pool!r} does not exist on "
                f"{spec.uri} (virsh vol-list {pool})"
            )
        return ResolvedBase.from_image(usable_base(target.host, path, "disk_path"))
    from .artifact_base import resolve_artifact_base

    return resolve_artifact_base(target, spec, defaults, materialise_now=materialise)
