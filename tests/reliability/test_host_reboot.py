"""A host reboot brings back every VM that is to run and no other (operations spec §2), by
libvirt's own autostart flag: no ``up`` is needed after the reboot.

What the simulated reboot proves, and what it cannot: every qemu process of this test's
domains is killed (``virsh destroy``: the plug pulled, as a reboot does), libvirt's
once-per-boot marker (``/run/libvirt/qemu/autostarted``, which a reboot's fresh ``/run``
lacks) is removed while libvirtd is down, and libvirtd starts again: its autostart pass is
the very code a booting host runs, over the flags and persistent definitions our ``up``
left. It cannot prove the host's own part (the init system starting libvirtd, the bridge
coming back, a real kernel and firmware boot), nor stop other suites' domains on this
shared libvirtd: only this test's are powered off.
"""

from __future__ import annotations

import time
from pathlib import Path

import libvirt
import pytest
from support.lab import Lab as RelLab

from .rellab import open_when_ready, restart_libvirtd

pytestmark = pytest.mark.libvirt

AUTOSTARTED = Path("/run/libvirt/qemu/autostarted")
"""libvirt's marker that its autostart pass ran since the host booted (it lives in /run)."""


def _reboot(rlab: RelLab) -> None:
    """Every qemu process of this test's domains gone, then libvirtd started as on a
    freshly booted host."""
    conn = rlab.live_conn()
    for name in rlab.domains():
        domain = conn.lookupByName(name)
        if domain.isActive():
            domain.destroy()
        assert not domain.isActive(), f"{name} still runs: the reboot proves nothing"
    restart_libvirtd(while_down=lambda: AUTOSTARTED.unlink(missing_ok=True))
    rlab.conn = open_when_ready()  # the test's own connection died with the daemon


def _domain(rlab: RelLab, short: str) -> libvirt.virDomain:
    domain = rlab.domain(short)
    assert domain is not None, f"{short} is not defined"
    return domain


def _wait_until_running(rlab: RelLab, shorts: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while any(rlab.power(short) != "running" for short in shorts):
        assert time.monotonic() < deadline, {short: rlab.power(short) for short in shorts}
        time.sleep(0.1)


@pytest.mark.restarts_libvirtd
def test_a_host_reboot_brings_back_every_running_vm_and_no_other(rlab: RelLab) -> None:
    rlab.vm("run", state="running", network_bridge=rlab.bridge)
    rlab.vm("off", state="stopped")
    rlab.vm("def", state="defined")
    rlab.vm("manual", state="running", autostart=False)
    rlab.vm("boot", state="defined", autostart=True)
    created = rlab.up()
    assert set(created.ops().values()) == {"create"}
    flags = {short: bool(_domain(rlab, short).autostart()) for short in rlab.vms}
    assert flags == {"run": True, "off": False, "def": False, "manual": False, "boot": True}

    _reboot(rlab)

    _wait_until_running(rlab, ["run", "boot"])
    assert AUTOSTARTED.exists(), "libvirtd's autostart pass did not run"
    # Every domain was off when libvirtd started and no up ran since: what runs now, its
    # autostart pass started (domain IDs restart with the daemon, so they prove nothing).
    assert {short: rlab.power(short) for short in ("off", "def", "manual")} == {
        "off": "stopped",
        "def": "stopped",
        "manual": "stopped",
    }
    # The stack sees only what it asked: "manual" (running, no autostart) is started by the
    # next up; everything else is as declared.
    assert rlab.up().ops() == {
        "run": "same",
        "off": "same",
        "def": "same",
        "manual": "update",
        "boot": "same",
    }
    rlab.assert_converged()
