"""Two hosts on one machine, for moving VMs between hosts: host A is this machine's libvirtd
(never touched), host B a second libvirtd (and virtlogd) in its own mount, UTS, network and
PID namespaces, with its own hostname and ``host_uuid``, its own /run/libvirt, /etc/libvirt,
/var/lib/libvirt (domains, images), /var/log/libvirt and /var/cache/libvirt, no cgroups
of its own (see :func:`.plan.qemu_settings`), and an sshd on a 198.19.252.0/24 veth
address; a second sshd on A's end of the veth lets B reach A (a migration back). Every
other path is the same on both hosts: the rig's shared storage.

The ``two_hosts`` session fixture (``tests/conftest.py``) yields a :class:`TwoHosts`; a
developer brings one up and down with ``python -m tests.support.twohost up|down``
(docs/testing.md, "Two hosts").
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .procs import RigError
from .rig import RigHost, TwoHosts, start, stop

__all__ = ["RigError", "RigHost", "TwoHosts", "running_two_hosts", "start", "stop"]


@contextmanager
def running_two_hosts(directory: Path | None = None) -> Iterator[TwoHosts]:
    """A rig built from nothing in ``directory`` (a new one under /var/tmp unless given),
    torn down completely when the block ends, directory included."""
    directory = directory or Path(tempfile.mkdtemp(prefix="vigo-twohost-", dir="/var/tmp"))
    rig = start(directory)
    try:
        yield rig
    finally:
        stop(directory)
