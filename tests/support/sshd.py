"""The private sshd on 127.0.0.1 whose host is this machine (and its libvirtd)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts
from pulumi_vigo_vm.testing.sshd import PrivateSshd, SshdUnavailableError


@contextmanager
def running_sshd(base: Path) -> Iterator[PrivateSshd]:
    """A private sshd keeping its files in ``base``, until the block ends; the test FAILS
    (never skips) if it cannot start. Cached SSH hosts are closed before it stops."""
    try:
        server = PrivateSshd.start(base)
    except SshdUnavailableError as exc:
        pytest.fail(f"cannot start the test sshd: {exc}", pytrace=False)
    try:
        yield server
    finally:
        close_all_ssh_hosts()
        server.stop()
