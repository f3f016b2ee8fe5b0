"""Curator artifacts: VM base images published to an OCI registry or image-layout directory.

The provider needs three calls::

    ref = parse_reference("alexander4/ubuntu-22.04-cloud:1.4")          # pure, validates input
    resolved = resolve(ref, curator, puddle, platform="linux-amd64")    # read-only, for preview
    path = materialise(host, resolved)                                  # on the hypervisor, once

``path`` is then the backing file of the VM's qcow2 overlay.
"""

from __future__ import annotations

from .materialise import materialise, sidecar_path
from .platform import normalise_platform, platform_for_machine
from .push import PushResult, push_generic
from .reference import ArtifactRef, parse_reference
from .resolve import DEFAULT_ROOT, ResolvedArtifact, resolve
from .store import ArtifactStore, default_curator, is_layout_location, open_store

__all__ = [
    "DEFAULT_ROOT",
    "ArtifactRef",
    "ArtifactStore",
    "PushResult",
    "ResolvedArtifact",
    "default_curator",
    "is_layout_location",
    "materialise",
    "normalise_platform",
    "open_store",
    "parse_reference",
    "platform_for_machine",
    "push_generic",
    "resolve",
    "sidecar_path",
]
