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
from .rig import RIG_PREFIX, RIGS_DIR, RigHost, TwoHosts, start, stop, sweep

__all__ = ["RigError", "RigHost", "TwoHosts", "running_two_hosts", "start", "stop", "sweep"]


@contextmanager
def running_two_hosts() -> Iterator[TwoHosts]:
    """A rig built from nothing in a new directory under /var/tmp, tied to the calling thread
    (killed with it), torn down completely when the block ends, directory included. The
    remains of rigs of killed runs are swept first."""
    sweep()
    directory = Path(tempfile.mkdtemp(prefix=RIG_PREFIX, dir=RIGS_DIR))
    rig = start(directory, tied=True)
    try:
        yield rig
    finally:
        stop(directory)
