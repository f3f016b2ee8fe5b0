"""The shape of a curator artifact in OCI terms, and nothing else.

An artifact is one OCI image manifest (OCI 1.1 artifact style: ``artifactType``, empty
config). Each layer is one platform's disk image, annotated with its platform; the
layer's title is ``<os>-<arch>`` so ``oras pull`` writes files named like our
materialised paths. Manifests are serialised canonically (sorted keys, no spaces, no
timestamps) so pushing the same content under a tag twice yields the same artifact id,
and the artifact id is exactly the sha256 of those bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import CuratorError

__all__ = [
    "ARTIFACT_TYPE_GENERIC",
    "DIGEST_GRAMMAR",
    "EMPTY_CONFIG",
    "EMPTY_CONFIG_DIGEST",
    "EMPTY_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "MEDIA_TYPE_QCOW2",
    "MEDIA_TYPE_RAW",
    "PLATFORM_ANNOTATION",
    "Layer",
    "Manifest",
    "build_manifest",
    "check_digest",
    "load_json_object",
    "parse_manifest",
    "sha256_digest",
]

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE_GENERIC = "application/vnd.vigo.curator.generic.v1"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
MEDIA_TYPE_QCOW2 = "application/vnd.vigo.disk.qcow2"
MEDIA_TYPE_RAW = "application/vnd.vigo.disk.raw"
PLATFORM_ANNOTATION = "io.vigo.platform"
TITLE_ANNOTATION = "org.opencontainers.image.title"


#: The one digest form accepted anywhere (manifests, ``index.json``, state, URLs, paths).
#: A digest becomes a file name in a layout and a URL path on a registry, so anything else
#: (``sha256:../../etc/shadow``, upper case, other algorithms) is refused before it is used.
DIGEST_GRAMMAR = "sha256:<64 lowercase hex digits>"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SHOWN = 100


def _shown(value: object) -> str:
    """``repr(value)``, cut short: hostile input must not make a megabyte error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def check_digest(where: str, digest: object) -> str:
    """``digest`` if it is :data:`DIGEST_GRAMMAR`; else a CuratorError naming ``where``."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise CuratorError(
            f"{where}: digest {_shown(digest)} is not {DIGEST_GRAMMAR}; refusing to use it. The "
            f"curator content is corrupt or hostile: re-push the artifact"
        )
    return digest


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


EMPTY_CONFIG_DIGEST = sha256_digest(EMPTY_CONFIG)


@dataclass(frozen=True)
class Layer:
    """One platform entry: a blob and the ``<os>-<arch>`` it is for."""

    platform: str
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Manifest:
    """A parsed artifact manifest."""

    artifact_type: str
    layers: tuple[Layer, ...]

    def layer_for(self, platform: str) -> Layer | None:
        """The layer for ``platform`` (``<os>-<arch>``), or None."""
        return next((layer for layer in self.layers if layer.platform == platform), None)


def build_manifest(artifact_type: str, layers: list[Layer]) -> bytes:
    """Canonical manifest bytes; layers are sorted by platform so order never changes the id."""
    body = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": artifact_type,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": EMPTY_CONFIG_DIGEST,
            "size": len(EMPTY_CONFIG),
        },
        "layers": [
            {
                "mediaType": layer.media_type,
                "digest": layer.digest,
                "size": layer.size,
                "annotations": {
                    PLATFORM_ANNOTATION: layer.platform,
                    TITLE_ANNOTATION: layer.platform,
                },
            }
            for layer in sorted(layers, key=lambda item: item.platform)
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _layer(where: str, index: int, raw: Any) -> Layer:
    if not isinstance(raw, dict):
        raise CuratorError(f"{where}: layer {index} of the manifest is not a JSON object")
    annotations = raw.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise CuratorError(f"{where}: the annotations of layer {index} are not a JSON object")
    platform = annotations.get(PLATFORM_ANNOTATION) or annotations.get(TITLE_ANNOTATION)
    size, media_type = raw.get("size"), raw.get("mediaType")
    if not isinstance(platform, str) or not platform:
        raise CuratorError(f"{where}: layer {index} has no {PLATFORM_ANNOTATION} annotation")
    digest = check_digest(f"{where}: layer {platform}", raw.get("digest"))
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CuratorError(f"{where}: layer {platform} has no valid size")
    return Layer(platform, digest, size, media_type if isinstance(media_type, str) else "")


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def load_json_object(where: str, data: bytes, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object, or a CuratorError naming ``where`` and ``what``.

    ``json`` raises RecursionError, not ValueError, on deeply nested input, and a valid
    JSON list or string would fail later as an AttributeError; both are refused here.
    """
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
        raise CuratorError(f"{where}: the {what} is {reason}; refusing it") from exc
    if not isinstance(body, dict):
        kind = _JSON_KINDS.get(type(body), "value")
        raise CuratorError(f"{where}: the {what} is a JSON {kind}, not an object; refusing it")
    return body


def parse_manifest(where: str, data: bytes) -> Manifest:
    """Parse manifest bytes fetched from ``where``; refuse anything that is not an artifact."""
    body = load_json_object(where, data, "manifest")
    media_type = body.get("mediaType", MANIFEST_MEDIA_TYPE)
    if media_type != MANIFEST_MEDIA_TYPE:
        raise CuratorError(
            f"{where}: manifest media type {_shown(media_type)} is not an OCI image manifest "
            f"(image indexes and Docker manifests are not curator artifacts)"
        )
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise CuratorError(f"{where}: the manifest has no layers")
    artifact_type = body.get("artifactType")
    if not isinstance(artifact_type, str):
        config = body.get("config")
        artifact_type = config.get("mediaType", "") if isinstance(config, dict) else ""
    return Manifest(
        str(artifact_type), tuple(_layer(where, index, raw) for index, raw in enumerate(layers))
    )
