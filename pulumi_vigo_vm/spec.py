"""ProviderDefaults: the values taken from stack config (``vigo:*``) when a resource omits an
input, shared by every resource of the package, and the defaults they fall back to.

``ProviderDefaults`` is pickled into every stack's state (as an attribute of each provider):
its import path ``pulumi_vigo_vm.spec.ProviderDefaults`` and its field names are a contract
(fleet.md §0); :mod:`tests.compat` and ``tests/unit/test_pickled_paths.py`` hold it. So this
module stays here, small, and imports nothing of a resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common.uri import DEFAULT_URI

__all__ = [
    "DEFAULT_ARTIFACTS_DIR",
    "DEFAULT_DOMAIN_TYPE",
    "DEFAULT_IMAGES_DIR",
    "DEFAULT_URI",
    "ProviderDefaults",
]

DEFAULT_DOMAIN_TYPE = "kvm"
DEFAULT_IMAGES_DIR = "/var/lib/libvirt/images"
DEFAULT_ARTIFACTS_DIR = "/var/lib/vigo/artifacts"


@dataclass(frozen=True)
class ProviderDefaults:
    """Values taken from stack config (``vigo:*``) when an input is omitted."""

    uri: str = DEFAULT_URI
    domain_type: str = DEFAULT_DOMAIN_TYPE
    images_dir: str = DEFAULT_IMAGES_DIR
    curator: str | None = None
    puddle: str | None = None
    artifacts_dir: str = DEFAULT_ARTIFACTS_DIR

    @classmethod
    def from_config(cls, get: Callable[[str], str | None]) -> ProviderDefaults:
        """Build from a config getter taking un-namespaced keys (``uri``, ``domainType``, ...)."""
        return cls(
            uri=get("uri") or DEFAULT_URI,
            domain_type=get("domainType") or DEFAULT_DOMAIN_TYPE,
            images_dir=get("imagesDir") or DEFAULT_IMAGES_DIR,
            curator=get("curator") or None,
            puddle=get("puddle") or None,
            artifacts_dir=get("artifactsDir") or DEFAULT_ARTIFACTS_DIR,
        )
