"""SnapshotProvider: the dynamic provider of VigoSnapshot. Glue only: parse -> effects ->
outputs.

Pickled into state by reference (``pulumi_vigo_vm.snapshot.provider.SnapshotProvider`` with
a ``pulumi_vigo_vm.spec.ProviderDefaults`` attribute): that path and attribute are a
contract.
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

from ..common.unknown import contains_unknown
from ..dynamic.configured import ConfiguredProvider
from ..dynamic.diff_names import named_diff
from ..hostfile.snapshots import SnapshotFacts
from ..virt.target import Target
from . import effects
from .spec import INPUT_NAMES, REPLACING_INPUTS, SnapshotSpec, check_inputs, parse_snapshot_spec

__all__ = ["SnapshotProvider"]


class SnapshotProvider(ConfiguredProvider):
    """One internal snapshot of a VM per resource. See docs/snapshots.md."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate every input. Never touches a host."""
        inputs, faults = check_inputs(news, self._defaults)
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in faults])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Another VM, host or name is another snapshot: replaced, the old one deleted first
        (a name is unique per VM). An unknown one may be (the VM's own replace: the engine
        then deletes this snapshot before the VM). The description updates in place."""
        before, _ = check_inputs(olds, self._defaults)
        after, _ = check_inputs(news, self._defaults)
        changed = [
            name
            for name in INPUT_NAMES
            if contains_unknown(after.get(name)) or before.get(name) != after.get(name)
        ]
        replaces = [name for name in changed if name in REPLACING_INPUTS]
        return named_diff(bool(changed), replaces, changed, delete_before_replace=bool(replaces))

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Take the snapshot (or adopt ours, left by an interrupted create)."""
        spec = parse_snapshot_spec(props, self._defaults)
        facts = effects.take(Target.for_uri(spec.uri), spec)
        return CreateResult(spec.id, _outputs(spec, facts))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Rewrite the description (diff replaces on any other change)."""
        spec = parse_snapshot_spec(news, self._defaults)
        facts = effects.redescribe(Target.for_uri(spec.uri), spec)
        return UpdateResult(_outputs(spec, facts))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the snapshot when ours; one already gone is not an error."""
        spec = parse_snapshot_spec(props, self._defaults)
        effects.remove(Target.for_uri(spec.uri), spec)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: a snapshot gone (reverted past, deleted by hand, its VM gone) or no
        longer ours is "gone"."""
        spec = parse_snapshot_spec(props, self._defaults)
        facts = effects.observe(Target.for_uri(spec.uri), spec)
        if facts is None:
            return ReadResult(None, {})
        return ReadResult(id_, _outputs(spec, facts))


def _outputs(spec: SnapshotSpec, facts: SnapshotFacts) -> dict[str, Any]:
    return {
        **spec.to_inputs(),
        "created_at": facts.created_at,
        "state": facts.state,
        "disks": list(facts.disks),
    }
