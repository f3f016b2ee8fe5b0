"""DiskProvider: the dynamic provider of VigoDisk. Glue only: parse -> effects -> outputs.

Pickled into state by reference (``pulumi_vigo_vm.disk.provider.DiskProvider`` with a
``pulumi_vigo_vm.spec.ProviderDefaults`` attribute): that path and attribute are a contract.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from ..dynamic.configured import ConfiguredProvider
from ..dynamic.diff_names import named_diff
from ..errors import InputError
from ..hostfile.claim import FileOwner
from ..virt.target import Target
from . import effects
from .spec import INPUT_NAMES, DiskSpec, check_inputs, parse_disk, refused_changes

__all__ = ["DiskProvider"]


class DiskProvider(ConfiguredProvider):
    """Converges one data disk file per resource. See docs/data-disks.md."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate every input, and refuse a change that would lose the data (a shrink, a
        new name, format, uri or images_dir). Never touches a host."""
        inputs, faults = check_inputs(news, self._defaults)
        if olds.get("name") is not None:
            before, _ = check_inputs(olds, self._defaults)
            faults += refused_changes(before, inputs)
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in faults])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Changed inputs are an update, never a replace (a replace would lose the data: the
        update refuses what cannot be done in place)."""
        before, _ = check_inputs(olds, self._defaults)
        after, _ = check_inputs(news, self._defaults)
        changed = [name for name in INPUT_NAMES if before.get(name) != after.get(name)]
        return named_diff(bool(changed), diffs=changed)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the empty disk, or adopt the one our claim names (a crashed create, or a
        disk kept by retain_on_delete): its bytes are kept."""
        spec = parse_disk(props, self._defaults)
        target = Target.for_uri(spec.uri)
        effects.converge(target, spec)
        return CreateResult(spec.path, _outputs(target, spec))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Grow in place; refuse (before touching anything) what would lose the data."""
        old, spec = parse_disk(olds, self._defaults), parse_disk(news, self._defaults)
        faults = refused_changes(old.to_inputs(), spec.to_inputs())
        if faults:
            raise InputError(faults)
        target = Target.for_uri(spec.uri)
        effects.converge(target, spec, previous_claim=old.claim)
        return UpdateResult(_outputs(target, spec))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Remove the file and its sidecar when ours; refused while any domain on the host
        references the file, naming those VMs."""
        spec = parse_disk(props, self._defaults)
        effects.remove(Target.for_uri(spec.uri), spec)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the file's virtual size and the domains that reference it; a file gone
        (or no longer claimed by this resource) is "gone"."""
        spec = parse_disk(props, self._defaults)
        target = Target.for_uri(spec.uri)
        if effects.observe(target, spec).owner is not FileOwner.OURS:
            return ReadResult(None, {})
        return ReadResult(id_, _outputs(target, spec))


def _outputs(target: Target, spec: DiskSpec) -> dict[str, Any]:
    facts = effects.observe(target, spec)
    return {
        **spec.to_inputs(),
        "path": spec.path,
        "virtual_size_bytes": facts.virtual_size,
        "attached_to": effects.attached_to(target, spec),
    }
