"""What the reliability suite adds to :mod:`support`: a raw capture of provider output,
and a Check-only client of a real provider process. (Its Lab, with fault injection and
orphan accounting, is :class:`support.lab.Lab`.) Plain module (not a conftest) so the test
modules can import it without clashing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
from pulumi.dynamic.dynamic import serialize_provider
from support.world import LOCAL_URI

from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.testing import CheckFailure
from pulumi_vigo_vm.testing import props as harness_props
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

VM_TYPE = "pulumi-python:dynamic/vigo:VigoVm"
LIBVIRTD_PIDFILE = Path("/run/libvirtd.pid")


def _libvirtd_pid() -> int:
    pid = int(LIBVIRTD_PIDFILE.read_text().strip())
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    assert comm == "libvirtd", f"{LIBVIRTD_PIDFILE} names {comm!r}, not libvirtd"
    return pid


def open_when_ready(timeout: float = 20.0) -> libvirt.virConnect:
    """A new local connection, as soon as a (re)started libvirtd accepts one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return libvirt.open(LOCAL_URI)
        except libvirt.libvirtError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def restart_libvirtd(while_down: Callable[[], None] | None = None) -> None:
    """Stop the shared libvirtd (by its pid) and start it again at once; running domains
    survive. Others share it: a test calling this is marked ``restarts_libvirtd``, which
    scripts/test.sh runs alone, after every other test. ``while_down`` runs between the
    stop and the start (what a host reboot changes meanwhile)."""
    pid = _libvirtd_pid()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if while_down is not None:
        while_down()
    subprocess.run(["libvirtd", "-d"], check=True, timeout=60)
    open_when_ready().close()


class ProviderLog:
    """Everything the provider processes printed (stdout after the port, and stderr), RAW.

    The harness keeps the last lines of each provider and shows them redacted; to prove
    that no secret is ever printed, the unredacted lines are kept here when a provider closes.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class CheckRpc:
    """One real ``python -m pulumi.dynamic`` process; ``check`` is its gRPC ``Check``."""

    def __init__(self, host: DynamicProviderHost) -> None:
        self.host = host
        self.provider = serialize_provider(VmProvider())

    def check(self, news: dict[str, Any]) -> tuple[dict[str, Any], list[CheckFailure]]:
        bag = {**news, harness_props.PROVIDER_KEY: self.provider}
        urn = f"urn:pulumi:dev::rel::{VM_TYPE}::vm"
        return self.host.check(urn, {}, bag)

    def alive(self) -> bool:
        proc = self.host._proc
        return proc is not None and proc.poll() is None
