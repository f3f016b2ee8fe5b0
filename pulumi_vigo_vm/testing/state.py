"""The harness's checkpoint: a JSON file holding what the engine knows about each resource.

It plays the role of Pulumi's stack checkpoint. Property bags are stored in wire form, so a
secret is stored as ``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
"value": ...}`` (in plaintext: this is a test fixture, not an encrypted backend), and each resource
also lists its ``secret_inputs``/``secret_outputs`` keys for humans and tests. The file is
rewritten atomically after every successful step that changed something, as the engine
checkpoints (:mod:`.elision`), so a run that fails half-way leaves a consistent state the next
run continues from.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stateid import TYPE_TOKEN as STATE_ID_TYPE
from . import props

STATE_VERSION = 1

BOOKKEEPING_TYPES = frozenset({STATE_ID_TYPE})
"""Resources the package declares by itself, not the program: the stack's VigoStateId
(created with the first claim, ``same`` ever after, deleted with the last). Left out of
:meth:`Snapshot.program_resources` and of a run's ``ops()``/``counts()``, so a test states
what the program's own resources did; the checkpoint and a run's ``steps`` hold them as the
engine does."""


@dataclass
class ResourceState:
    """One resource as recorded in the checkpoint."""

    urn: str
    type: str
    id: str
    inputs: props.PropertyMap
    outputs: props.PropertyMap
    order: int
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input key -> URNs its value came from; the engine uses them to tell which dependents a
    delete-before-replace must replace too (``calculateDependentReplacements``)."""
    additional_secret_outputs: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def name(self) -> str:
        """The logical name (the URN's last segment)."""
        return self.urn.split("::", 3)[-1]

    @property
    def secret_inputs(self) -> list[str]:
        """Top-level input keys holding secrets."""
        return props.secret_keys(self.inputs)

    @property
    def secret_outputs(self) -> list[str]:
        """Top-level output keys holding secrets."""
        return props.secret_keys(self.outputs)

    def plain_outputs(self) -> dict[str, Any]:
        """Outputs with secrets unwrapped (for assertions)."""
        plain: dict[str, Any] = props.unwrap_secrets(self.outputs)
        return plain

    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped (for assertions)."""
        plain: dict[str, Any] = props.unwrap_secrets(self.inputs)
        return plain

    def copy(self) -> ResourceState:
        """A deep copy (states are mutated while steps run)."""
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the state file."""
        return {
            "urn": self.urn,
            "type": self.type,
            "id": self.id,
            "order": self.order,
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "property_dependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "additional_secret_outputs": list(self.additional_secret_outputs),
            "secret_inputs": self.secret_inputs,
            "secret_outputs": self.secret_outputs,
            "inputs": self.inputs,
            "outputs": self.outputs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        """Inverse of :meth:`to_json`."""
        return cls(
            urn=str(data["urn"]),
            type=str(data["type"]),
            id=str(data["id"]),
            inputs=dict(data.get("inputs") or {}),
            outputs=dict(data.get("outputs") or {}),
            order=int(data.get("order", 0)),
            parent=str(data.get("parent", "")),
            dependencies=[str(d) for d in data.get("dependencies", [])],
            property_dependencies={
                str(k): [str(u) for u in v]
                for k, v in dict(data.get("property_dependencies") or {}).items()
            },
            additional_secret_outputs=[str(k) for k in data.get("additional_secret_outputs", [])],
            protect=bool(data.get("protect", False)),
            retain_on_delete=bool(data.get("retain_on_delete", False)),
        )


@dataclass
class Snapshot:
    """The whole checkpoint: live resources by URN, resources pending deletion, stack outputs.

    ``pending_deletes`` holds resources replaced create-before-delete whose old instance has not
    been deleted yet; the engine deletes them at the end of the run, or at the start of the next
    one if the run failed first.
    """

    project: str = ""
    stack: str = ""
    resources: dict[str, ResourceState] = field(default_factory=dict)
    pending_deletes: list[ResourceState] = field(default_factory=list)
    outputs: props.PropertyMap = field(default_factory=dict)
    next_order: int = 0

    def ordered(self) -> list[ResourceState]:
        """Live resources in registration order."""
        return sorted(self.resources.values(), key=lambda r: r.order)

    def program_resources(self) -> list[ResourceState]:
        """:meth:`ordered` without the package's own bookkeeping (:data:`BOOKKEEPING_TYPES`)."""
        return [r for r in self.ordered() if r.type not in BOOKKEEPING_TYPES]

    def state_id(self) -> str:
        """The stack's state id, as its VigoStateId recorded it (exactly one must be there)."""
        (resource,) = [r for r in self.ordered() if r.type == STATE_ID_TYPE]
        value: str = resource.plain_outputs()["state_id"]
        return value

    def copy(self) -> Snapshot:
        """A deep copy."""
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored in the state file."""
        return {
            "version": STATE_VERSION,
            "project": self.project,
            "stack": self.stack,
            "next_order": self.next_order,
            "resources": {r.urn: r.to_json() for r in self.ordered()},
            "pending_deletes": [r.to_json() for r in self.pending_deletes],
            "outputs": self.outputs,
            "secret_outputs": props.secret_keys(self.outputs),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """Inverse of :meth:`to_json`."""
        version = int(data.get("version", STATE_VERSION))
        if version != STATE_VERSION:
            raise ValueError(f"unsupported harness state version {version}")
        resources = {
            urn: ResourceState.from_json({**entry, "urn": urn})
            for urn, entry in dict(data.get("resources") or {}).items()
        }
        return cls(
            project=str(data.get("project", "")),
            stack=str(data.get("stack", "")),
            resources=resources,
            pending_deletes=[ResourceState.from_json(e) for e in data.get("pending_deletes", [])],
            outputs=dict(data.get("outputs") or {}),
            next_order=int(data.get("next_order", 0)),
        )


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read the state file; a missing or empty file is an empty stack."""
    file = Path(path)
    text = file.read_text(encoding="utf-8") if file.exists() else ""
    return Snapshot.from_json(json.loads(text)) if text.strip() else Snapshot()


def save_snapshot(path: str | os.PathLike[str], snapshot: Snapshot) -> None:
    """Write the state file atomically (write a temporary file, then rename over).

    One line, by ``json``'s C encoder: ``indent`` would fall back to the pure-Python one
    (3-4x slower at 1,000 VMs), and a run of N steps writes up to N times. ``python -m
    json.tool`` shows it indented.
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(snapshot.to_json())
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
