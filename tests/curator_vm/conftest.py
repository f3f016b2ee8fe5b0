"""Fixtures: VMs in the local libvirtd whose base disk is a curator artifact.

The registry and the libvirt and SSH fixtures are ``tests/conftest.py``'s (the session's
``docker-registry``, shared with the curator tests), the lab is
:class:`support.artifacts.ArtifactLab`. Each test gets a fresh puddle, a world-traversable
directory under /var/tmp (qemu runs as an unprivileged user and must reach the materialised
base), its own ``vigo:artifactsDir`` there, and domain names starting with ``cur-`` (other
suites share this libvirtd).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import libvirt
import pytest
from support.artifacts import ArtifactLab
from support.registry import Registry
from support.world import LOCAL_URI


def _new_lab(
    request: pytest.FixtureRequest,
    conn: libvirt.virConnect,
    bridge_name: str,
    curator: str,
    uri: str = LOCAL_URI,
) -> Iterator[ArtifactLab]:
    """A fresh ArtifactLab for the fixture's whole use, in a new puddle of ``curator``
    (``""``: a layout directory in the world)."""
    return ArtifactLab.new(
        "cur",
        request.node.nodeid,
        "{kind}-{digest}",
        uri=uri,
        bridge=bridge_name,
        conn=conn,
        curator=curator,
        puddle="p" + uuid.uuid4().hex[:10],
    ).lifetime()


@pytest.fixture(params=["registry", "layout", "registry-over-ssh"])
def alab(
    request: pytest.FixtureRequest, libvirt_conn: libvirt.virConnect, bridge: str
) -> Iterator[ArtifactLab]:
    """One test's world: a real registry, a layout directory, and the registry with the
    hypervisor reached over qemu+ssh (the artifact is materialised through SFTP)."""
    registry = request.param.startswith("registry")
    curator = request.getfixturevalue("registry").location if registry else ""
    uri = request.getfixturevalue("ssh_uri") if request.param.endswith("ssh") else LOCAL_URI
    yield from _new_lab(request, libvirt_conn, bridge, curator, uri)


@pytest.fixture
def rlab(
    request: pytest.FixtureRequest,
    libvirt_conn: libvirt.virConnect,
    bridge: str,
    registry: Registry,
) -> Iterator[ArtifactLab]:
    """One test's world against the real registry only."""
    yield from _new_lab(request, libvirt_conn, bridge, registry.location)
