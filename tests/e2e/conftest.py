"""Fixtures for end-to-end tests: real Debian guests booted under TCG by the provider.

Nothing is mocked and nothing is skipped: if the image cannot be built or libvirtd is
unreachable, the tests FAIL. Domains are named ``e2e-<hash>-vm``. libvirt appends their
serial console to one log across boots (and across runs of the same test, which reuse
the name), so that log is deleted before a guest is made and split per boot at the
kernel banner (see ``support``).
The libvirt fixtures (``libvirt_conn``, ``bridge``) are ``tests/conftest.py``'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab
from support.world import LOCAL_URI

from .support import (
    DEFAULT_IMAGE_CACHE,
    Guest,
    builder,
    console_log_path,
    require_readable_by_others,
)


@pytest.fixture(scope="session")
def base_image() -> Path:
    """The cached Debian 12 cloud-init image, built on first use (needs root)."""
    configured = os.environ.get(builder.CACHE_ENV)
    cache = Path(configured) if configured else DEFAULT_IMAGE_CACHE
    try:
        image: Path = builder.ensure_image(cache)
    except Exception as exc:  # any build failure must FAIL, never skip
        pytest.fail(f"could not build the test image into {cache}: {exc!r}")
    require_readable_by_others(image)
    return image


@pytest.fixture(scope="module")
def make_guest(
    base_image: Path, bridge: str, libvirt_conn: libvirt.virConnect
) -> Iterator[Callable[[str], Guest]]:
    """Factory: ``make_guest(key)`` gives a fresh Guest in its own stack and directory.

    The directory is world-traversable, under /var/tmp, for qemu's user. Leftover domains
    and the console log of that key are removed first; domains, files and console logs are
    removed when the test module ends (a failed test's message quotes the log's tail), so no
    emulated guest keeps a CPU busy while the rest of the session runs.
    """
    lifetimes: list[Iterator[Lab]] = []

    def make(key: str) -> Guest:
        lab = Lab.new(
            "e2e", key, "{kind}-{digest}", uri=LOCAL_URI, bridge=bridge, conn=libvirt_conn
        )
        lifetime = lab.lifetime()
        lifetimes.append(lifetime)
        guest = Guest(next(lifetime), base_image)
        console_log_path(guest.name).unlink(missing_ok=True)
        return guest

    yield make
    for lifetime in lifetimes:
        next(lifetime, None)  # the end of the lab's lifetime: its domains and files removed
