"""kcli's own command line, run unchanged but for what it may see of a shared host.

``python bench/kcli_cli.py <kcli arguments>``, with ``KCLI_BENCH_POOLS`` naming the storage
pools kcli may list (comma-separated). kcli refreshes **every** active pool of the host
before each create and retries a failed refresh for ever (``Kvirt.volumes``); on this
machine colleagues' tests start and stop pools all the time, and a pool stopped between
kcli's listing and its refresh hung it. On a host of its own kcli sees only its pools, so
the listing is narrowed to the bench's pool; nothing else of kcli is changed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import libvirt

_list_pools = libvirt.virConnect.listAllStoragePools
_POOLS = set(filter(None, os.environ.get("KCLI_BENCH_POOLS", "").split(",")))


def _bench_pools(self: libvirt.virConnect, flags: int = 0) -> list[Any]:
    return [pool for pool in _list_pools(self, flags) if pool.name() in _POOLS]


libvirt.virConnect.listAllStoragePools = _bench_pools  # type: ignore[method-assign]

if __name__ == "__main__":
    from kvirt.cli import cli

    sys.argv[0] = "kcli"
    sys.exit(cli())
