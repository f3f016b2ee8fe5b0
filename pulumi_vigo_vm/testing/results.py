"""What a harness verb returns: the steps taken, stack outputs and errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from . import props
from .errors import HarnessError, Violation
from .state import BOOKKEEPING_TYPES

Op = Literal["create", "update", "replace", "delete", "same", "read"]
Verb = Literal["preview", "up", "refresh", "destroy"]


@dataclass(frozen=True)
class Step:
    """One resource step, as the engine would display it.

    ``op`` is what happened (or, in a preview, what would happen). ``replaces`` is the diff's
    ``replaces`` list; ``diffs`` the keys the diff reported as changed (or, when the provider
    does not say, the top-level input keys that differ, as ``pulumi`` displays them).
    ``delete_before_replace`` tells which order a replace used. ``old_urn`` is the URN the
    resource's old state was found under when that was one of its aliases (the engine shows
    such a step against the old state, with the new URN recorded).
    """

    urn: str
    name: str
    type: str
    op: Op
    replaces: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()
    id: str = ""
    delete_before_replace: bool = False
    failed: bool = False
    old_urn: str = ""

    def describe(self) -> str:
        """A one-line human summary."""
        sign = {
            "create": "+",
            "update": "~",
            "replace": "+-",
            "delete": "-",
            "same": " ",
            "read": ">",
        }[self.op]
        text = f"{sign:>2} {self.op:<8} {self.type} {self.name}"
        if self.replaces:
            text += f" [replace: {', '.join(self.replaces)}]"
            if self.delete_before_replace:
                text += " (delete before replace)"
        elif self.diffs:
            text += f" [diff: {', '.join(self.diffs)}]"
        if self.old_urn:
            text += f" [was {self.old_urn}]"
        if self.failed:
            text += " FAILED"
        return text


@dataclass
class RunResult:
    """The outcome of one verb (``preview``, ``up``, ``refresh`` or ``destroy``).

    ``outputs`` are the stack outputs with secrets unwrapped (tests assert on values);
    ``secret_outputs`` names the ones that are secret, and :meth:`summary` masks them.
    In a preview, values not known yet are :data:`~pulumi_vigo_vm.testing.props.UNKNOWN`.
    """

    verb: Verb
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    errors: list[HarnessError] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    program_output: str = ""

    @property
    def ok(self) -> bool:
        """Whether the run finished without any error."""
        return not self.errors

    def ops(self) -> dict[str, Op]:
        """Map resource name to the op taken (last one wins), handy for assertions; the
        package's own bookkeeping (:data:`BOOKKEEPING_TYPES`) left out."""
        return {step.name: step.op for step in self.program_steps()}

    def program_steps(self) -> list[Step]:
        """The steps of the program's resources: :attr:`steps` without the package's own
        bookkeeping (:data:`BOOKKEEPING_TYPES`)."""
        return [step for step in self.steps if step.type not in BOOKKEEPING_TYPES]

    def step(self, name: str) -> Step:
        """The (last) step of the resource with logical name ``name``."""
        for step in reversed(self.steps):
            if step.name == name:
                return step
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """How many steps of each op the program's resources took (see :meth:`ops`)."""
        return _count(self.program_steps())

    def summary(self) -> str:
        """A readable report like the CLI's: steps, stack outputs, errors. Secrets are masked."""
        lines = [f"{'Previewing' if self.verb == 'preview' else 'Running'} {self.verb}:"]
        lines += [f"  {step.describe()}" for step in self.steps] or ["  (no resource steps)"]
        if self.outputs:
            lines.append("Outputs:")
            for name in sorted(self.outputs):
                value: Any = self.outputs[name]
                shown = (
                    props.SECRET_PLACEHOLDER
                    if name in self.secret_outputs
                    else props.display(value)
                )
                lines.append(f"    {name}: {json.dumps(shown, sort_keys=True, default=str)}")
        counts = _count(self.steps)
        if counts:
            lines.append("Resources: " + ", ".join(f"{n} {op}" for op, n in sorted(counts.items())))
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        for error in self.errors:
            lines.append(f"error: {error}")
        return "\n".join(lines)


def _count(steps: list[Step]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.op] = counts.get(step.op, 0) + 1
    return counts
