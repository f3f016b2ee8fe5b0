"""Turn a reference into the exact blob a VM on a given platform will be backed by.

Read-only and cheap (one manifest fetch): the provider calls it during ``pulumi preview``.
The result is plain data (strings and an int) so the provider can keep it in state and
hand it to :func:`~.materialise.materialise` later, in another process if need be.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import CuratorError
from ..spec import DEFAULT_ARTIFACTS_DIR
from .manifest import parse_manifest
from .platform import normalise_platform
from .reference import ArtifactRef, parse_reference
from .store import ArtifactStore, open_store

__all__ = ["DEFAULT_ROOT", "ResolvedArtifact", "resolve"]

#: Where artifacts are materialised on a hypervisor (the ``artifactsDir`` default).
DEFAULT_ROOT = DEFAULT_ARTIFACTS_DIR


@dataclass(frozen=True)
class ResolvedArtifact:
    """One platform's blob of one artifact, as found in a curator."""

    curator: str
    puddle: str
    name: str
    version: str
    platform: str  # <os>-<arch>
    artifact_id: str  # hex sha256 of the manifest
    digest: str  # sha256:<hex> of the blob
    size: int
    media_type: str

    @property
    def repository(self) -> str:
        """The OCI repository the artifact lives in."""
        return f"{self.puddle}/{self.name}" if self.puddle else self.name

    @property
    def reference(self) -> str:
        """The pinned reference that names exactly this artifact (for messages and outputs)."""
        return f"{self.artifact_id}/{self.name}@{self.version}"

    def path(self, root: str = DEFAULT_ROOT) -> str:
        """``<root>/<artifact_id>/<name>/<version>/<os>-<arch>`` on the hypervisor."""
        return posixpath.join(root, self.artifact_id, self.name, self.version, self.platform)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for Pulumi state or JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedArtifact:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(**{key: data[key] for key in cls.__dataclass_fields__})
        except KeyError as exc:
            raise CuratorError(f"resolved artifact record lacks {exc.args[0]!r}") from exc


def resolve(
    ref: ArtifactRef | str,
    curator: str,
    puddle: str,
    platform: str,
    *,
    store: ArtifactStore | None = None,
) -> ResolvedArtifact:
    """Find ``ref``'s manifest in ``curator`` and pick ``platform``'s blob.

    ``puddle`` is ``vigo:puddle``, used when the reference names none. A pinned reference
    whose id is not a prefix of the manifest's sha256 is refused: the tag has moved and the
    pin says the old content, so nothing else is substituted.
    """
    if isinstance(ref, str):
        ref = parse_reference(ref)
    platform = normalise_platform(platform)
    store = store or open_store(curator)
    repository = ref.repository(puddle)
    shown = f"{repository}:{ref.version} in curator {store.location}"
    data = store.get_manifest(repository, ref.version)
    if data is None:
        raise CuratorError(
            f"artifact {shown} does not exist (no such repository or tag); check the "
            f"reference, vigo:puddle and vigo:curator, or publish it with vigo-curator push"
        )
    artifact_id = hashlib.sha256(data).hexdigest()
    if ref.artifact_id is not None and not artifact_id.startswith(ref.artifact_id):
        raise CuratorError(
            f"artifact {ref}: pinned id {ref.artifact_id} does not match {shown}, whose id is "
            f"now {artifact_id}; the tag was re-pushed or the pin is mistyped. Pin the new "
            f"id deliberately, or push the old content under a new version"
        )
    manifest = parse_manifest(shown, data)
    layer = manifest.layer_for(platform)
    if layer is None:
        have = ", ".join(layer.platform for layer in manifest.layers) or "none"
        raise CuratorError(
            f"artifact {shown} has no {platform} image (it has: {have}); push one with "
            f"vigo-curator push --platform {platform.replace('-', '/', 1)}"
        )
    return ResolvedArtifact(
        curator=store.location,
        puddle=ref.puddle if ref.puddle is not None else puddle,
        name=ref.name,
        version=ref.version,
        platform=platform,
        artifact_id=artifact_id,
        digest=layer.digest,
        size=layer.size,
        media_type=layer.media_type,
    )
