"""A libvirt domain snapshot as the package reads it: whose it is (the claim a VigoSnapshot
writes in its description), the run state it holds, the files it covers. Pure: XML in,
values out.

Three resources ask: VigoSnapshot (is the snapshot of that name ours), VigoVm (which
snapshots would a destroy or replace discard, and whose are they) and VigoDisk (which
snapshots live inside its file). Snapshot XML is libvirt's ``<domainsnapshot>``; the disks
it covers are those marked ``snapshot='internal'``, their files named by the ``<domain>``
libvirt saved with it.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..common.claimtext import parse
from ..common.typetokens import VIGO_SNAPSHOT
from .disk_refs import disk_refs

__all__ = [
    "CLAIM_LINE",
    "SnapshotFacts",
    "described",
    "made_in_state",
    "parse_snapshot",
]

CLAIM_LINE = "pulumi_vigo_vm claim: "
"""The description's last line starts with this, followed by the claim: the one mark that
makes a snapshot ours (a snapshot made by hand has none, or another)."""


def described(description: str, claim: str) -> str:
    """The snapshot's description: the user's text, then our claim on a line of its own."""
    line = f"{CLAIM_LINE}{claim}"
    return f"{description}\n{line}" if description else line


@dataclass(frozen=True)
class SnapshotFacts:
    """One snapshot, read from its XML."""

    name: str
    claim: str | None
    """The claim its description ends with (None: not made by this package)."""
    description: str
    """The description without our claim line: what the user wrote."""
    state: str
    """The domain's state when it was taken (``running``, ``shutoff``, ``paused``...)."""
    created_at: str
    """When it was taken, ISO 8601 in UTC."""
    disks: tuple[str, ...]
    """The files whose internal snapshot it holds, in the domain's disk order."""


def parse_snapshot(xml: str) -> SnapshotFacts:
    """The facts of the snapshot ``xml`` (``virDomainSnapshotGetXMLDesc``). Raises
    ValueError when it is not a domain snapshot."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not a domain snapshot: {exc}") from exc
    if root.tag != "domainsnapshot":
        raise ValueError(f"not a domain snapshot: <{root.tag}>")
    text = root.findtext("description") or ""
    head, _, last = text.rpartition("\n")
    claim = None
    if last.startswith(CLAIM_LINE):
        claim, text = last[len(CLAIM_LINE) :], head
    created = int(root.findtext("creationTime") or 0)
    internal = {
        disk.get("name")
        for disk in root.iterfind("./disks/disk")
        if disk.get("snapshot") == "internal"
    }
    domain = root.find("domain")
    files: tuple[str, ...] = ()
    if domain is not None:
        refs = disk_refs(ET.tostring(domain, encoding="unicode"))
        files = tuple(r.path for r in refs if r.path and r.target in internal)
    return SnapshotFacts(
        name=root.findtext("name") or "",
        claim=claim,
        description=text,
        state=root.findtext("state") or "",
        created_at=datetime.datetime.fromtimestamp(created, datetime.UTC).isoformat(),
        disks=files,
    )


def made_in_state(snapshot_claim: str | None, claim: str | None) -> bool:
    """Whether ``snapshot_claim`` is a VigoSnapshot's of the same Pulumi state as ``claim``
    (a VM's): the stack that holds the VM also holds that snapshot's resource."""
    if snapshot_claim is None or claim is None:
        return False
    theirs, ours = parse(snapshot_claim), parse(claim)
    urn_type = theirs.owner.split("::")[2] if theirs.owner.count("::") >= 3 else ""
    made_by_resource = urn_type.rpartition("$")[2] == VIGO_SNAPSHOT
    return made_by_resource and theirs.state is not None and theirs.state == ours.state
