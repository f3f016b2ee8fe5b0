"""Build and tear down the two-host rig (see :mod:`tests.support.twohost`).

Host B is one process tree in its own mount, UTS, network and PID namespaces, whose init
(pid 1 inside, a few lines of Python that reap orphans, as libvirt expects of init) was
made by ``unshare``; every other process of B is started in its namespaces with
``nsenter``. Killing that init kills all of B at once (the kernel ends a PID namespace
with its init), its mounts vanish with its mount namespace, and its veth end with its
network namespace, which takes the peer with it. What lives outside B is recorded in
``rig.json`` as it is made (the veth, A's sshd, the processes by pid and start time), so a
teardown from another process (``twohost down``) or after a failed build removes exactly
that.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_vigo_vm.testing.sshd import PrivateSshd, SshdUnavailableError

from .files import write_private_dirs
from .plan import (
    HIDDEN_DIRS,
    LIBVIRT_SOCK,
    LIBVIRTD_PID,
    PRIVATE_DIRS,
    RIGS,
    RUN_DIR,
    VIRTLOGD_PID,
    VIRTLOGD_SOCK,
    RigPlan,
    free_index,
    ssh_command_text,
    ssh_config_text,
)
from .procs import Proc, RigError, run, succeeds, tool, wait_until

LOCAL_URI = "qemu:///system"

RIGS_DIR = Path("/var/tmp")
RIG_PREFIX = "vigo-twohost-"
"""Where the fixture's rigs live (``RIGS_DIR/RIG_PREFIX*``), for :func:`sweep`."""

REAPER = """\
import os, sys, time
open(sys.argv[1], "w").close()
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""
"""Host B's init: says it is up (the namespaces exist once it runs), then reaps orphans
(qemu and the daemons double-fork; a zombie qemu would look alive to libvirt)."""

TOOLS = ("unshare", "nsenter", "mount", "ip", "virsh", "libvirtd", "virtlogd", "sshd", "ssh")
"""Checked before anything is made, so a missing one fails the build with its name."""

DAEMON_TIMEOUT = 120.0
"""B's libvirtd probes qemu's capabilities on its first start (seconds, more on a busy CI)."""


@dataclass(frozen=True)
class RigHost:
    """One host of the rig as a test reaches it.

    ``ssh_uri`` is the provider's form (``?keyfile=&known_hosts=``, read by its own SSH
    client); ``libvirt_uri`` is libvirt's own (``?command=`` the rig's ssh, which trusts
    only the rig's host keys): give it to ``virsh`` and as a peer-to-peer migration's
    destination, which the source libvirtd opens itself. ``local_uri`` skips SSH.
    ``root`` is the host's filesystem as seen from this machine; ``sshd`` the server behind
    ``ssh_uri`` (its log counts the logins).
    """

    hostname: str
    address: str
    ssh_uri: str
    libvirt_uri: str
    local_uri: str
    root: Path
    sshd: PrivateSshd

    def path(self, path: str) -> Path:
        """Where ``path`` of this host is on this machine (B's own directories differ)."""
        return self.root / path.lstrip("/")


@dataclass(frozen=True)
class TwoHosts:
    """The running rig: host A (this machine's libvirtd, never touched) and host B."""

    plan: RigPlan
    a: RigHost
    b: RigHost
    init: Proc

    def run_on_b(self, argv: list[str], *, timeout: float = 60, check: bool = True) -> str:
        """Run a command inside host B (its namespaces), stdout returned."""
        return run([*enter(self.init), *argv], timeout=timeout, check=check)

    def kill_libvirtd_b(self, sig: int = signal.SIGKILL) -> None:
        """Signal host B's libvirtd (as when the target host dies mid-migration); B's guests
        keep running, as they would."""
        self.run_on_b(["sh", "-c", f"kill -{int(sig)} $(cat {LIBVIRTD_PID})"])
        if sig == signal.SIGKILL:
            wait_until(lambda: not succeeds(self._virsh_b_version()), 30, "B's libvirtd to die")

    def start_libvirtd_b(self) -> None:
        """Start host B's libvirtd again (after :meth:`kill_libvirtd_b`)."""
        start_libvirtd(self.plan, self.init)

    def _virsh_b_version(self) -> list[str]:
        return [*enter(self.init), "virsh", "-c", LOCAL_URI, "version"]


def enter(init: Proc) -> list[str]:
    """The command prefix that runs a command inside host B."""
    return [tool("nsenter"), "-t", str(init.pid), "-m", "-u", "-n", "-p", "--"]


class _State:
    """rig.json: what exists outside B, written as soon as it exists."""

    def __init__(self, plan_dir: Path) -> None:
        self.path = plan_dir / "rig.json"
        self.data: dict[str, object] = {}
        self.save()

    def record(self, **facts: object) -> None:
        self.data.update(facts)
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=1) + "\n")


def start(directory: Path, *, tied: bool = False) -> TwoHosts:
    """Build the rig in ``directory`` (empty or new); on any failure, tear down what was
    built and raise RigError. A ``tied`` rig's processes are killed by the kernel when the
    calling thread ends, even if it is killed before its teardown runs (a test run stopped
    by ``timeout``): B's namespaces go with them, only the directory is left, for
    :func:`sweep` to remove."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise RigError(
            f"{directory} is not empty; if a rig runs there, take it down first: "
            f"python -m tests.support.twohost down --dir {directory}"
        )
    state = _State(directory)
    try:
        return _build(directory, state, _tie() if tied else [])
    except BaseException:
        stop(directory)
        raise


def _tie() -> list[str]:
    """The command prefix that has the kernel SIGKILL a process when its parent thread ends."""
    return [tool("setpriv"), "--pdeathsig", "KILL", "--"]


def _build(directory: Path, state: _State, tie: list[str]) -> TwoHosts:
    for name in TOOLS:
        tool(name)
    hostname_a = run(["virsh", "-c", LOCAL_URI, "hostname"]).strip()
    plan = _reserve_veth(directory, state)
    write_private_dirs(plan, hostname_a)
    init = _start_init(plan, state, tie)
    _set_up_namespaces(plan, init)
    start_libvirtd(plan, init)
    sshd_b = _sshd(plan.dir / "ssh-b", plan.address_b, 22, enter(init))
    state.record(sshd_b=_proc(sshd_b))
    sshd_a = _sshd(plan.dir / "ssh-a", plan.address_a, None, tie)
    state.record(sshd_a=_proc(sshd_a))
    plan.ssh_config.write_text(
        ssh_config_text(
            [sshd_a.client_key, sshd_b.client_key], [sshd_a.known_hosts, sshd_b.known_hosts]
        )
    )
    plan.ssh_command.parent.mkdir()
    plan.ssh_command.write_text(ssh_command_text(tool("ssh"), plan.ssh_config))
    plan.ssh_command.chmod(0o755)
    b_root = Path(f"/proc/{init.pid}/root")
    rig = TwoHosts(
        plan,
        RigHost(
            hostname_a,
            plan.address_a,
            sshd_a.uri,
            _libvirt_uri(plan, sshd_a),
            LOCAL_URI,
            Path("/"),
            sshd_a,
        ),
        RigHost(
            plan.hostname_b,
            plan.address_b,
            sshd_b.uri,
            _libvirt_uri(plan, sshd_b),
            f"qemu+unix:///system?socket={b_root}{LIBVIRT_SOCK}",
            b_root,
            sshd_b,
        ),
        init,
    )
    _check_reachable(rig)
    return rig


def _reserve_veth(directory: Path, state: _State) -> RigPlan:
    """Create the veth pair of the lowest free rig number (its reservation)."""
    for _ in range(RIGS):
        links = {path.name for path in Path("/sys/class/net").iterdir()}
        addresses = {
            line.split()[3].split("/")[0] for line in run(["ip", "-4", "-o", "addr"]).splitlines()
        }
        plan = RigPlan(free_index(links, addresses), directory, str(uuid.uuid4()))
        add = ["ip", "link", "add", plan.veth_a, "type", "veth", "peer", "name", plan.veth_b]
        try:
            run(add, timeout=30)
        except RigError as exc:
            if "exists" in str(exc):
                continue  # another rig took this number since we listed the links
            raise
        state.record(index=plan.index, veth=plan.veth_a, host_uuid=plan.host_uuid)
        return plan
    raise RigError("could not reserve a veth pair for the two-host rig (see `ip link`)")


def _start_init(plan: RigPlan, state: _State, tie: list[str]) -> Proc:
    """B's namespaces and their init; the unshare that made them is recorded too (killing
    it kills the init: ``--kill-child``)."""
    ready = plan.dir / "init.ready"
    with (plan.dir / "init.log").open("wb") as log:
        unshare = subprocess.Popen(
            [*tie, tool("unshare"), "--mount", "--uts", "--net", "--pid", "--fork", "--kill-child",
             "--mount-proc", "--propagation", "private", "--",
             sys.executable, "-c", REAPER, str(ready)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    state.record(unshare=_record(Proc.of(unshare.pid)))
    wait_until(lambda: ready.exists() or unshare.poll() is not None, 30, "B's namespaces")
    children = Proc.of(unshare.pid).children() if unshare.poll() is None else []
    if not children:
        raise RigError(f"unshare could not make B's namespaces: {_tail(plan.dir / 'init.log')}")
    init = Proc.of(children[0])
    state.record(init=_record(init))
    return init


def _set_up_namespaces(plan: RigPlan, init: Proc) -> None:
    """B's hostname, its private directories, the veth between A and B with addresses."""
    inside = enter(init)
    run([*inside, "hostname", plan.hostname_b])
    run([*inside, "mount", "-t", "tmpfs", "-o", "mode=0755", "vigo-rig", RUN_DIR])
    for path in PRIVATE_DIRS:
        run([*inside, "mount", "--bind", str(plan.private_source(path)), path])
    run([*inside, "mount", "--bind", str(plan.hosts_file), "/etc/hosts"])
    for path in HIDDEN_DIRS:
        if Path(path).is_dir():
            run([*inside, "mount", "-t", "tmpfs", "-o", "mode=0755", "vigo-rig", path])
    run(["ip", "link", "set", plan.veth_b, "netns", str(init.pid)])
    run(["ip", "addr", "add", f"{plan.address_a}/30", "dev", plan.veth_a])
    run(["ip", "link", "set", plan.veth_a, "up"])
    run([*inside, "ip", "addr", "add", f"{plan.address_b}/30", "dev", plan.veth_b])
    run([*inside, "ip", "link", "set", plan.veth_b, "up"])
    run([*inside, "ip", "link", "set", "lo", "up"])


def start_libvirtd(plan: RigPlan, init: Proc) -> None:
    """B's virtlogd (unless it runs) and libvirtd, daemonised inside B with their pid files
    in B's /run/libvirt; returns when B's libvirtd answers."""
    inside, root = enter(init), Path(f"/proc/{init.pid}/root")
    if not (root / VIRTLOGD_SOCK.lstrip("/")).exists():
        _daemon(plan, [*inside, "virtlogd", "-d", "-p", VIRTLOGD_PID])
        wait_until((root / VIRTLOGD_SOCK.lstrip("/")).exists, 30, "B's virtlogd")
    _daemon(plan, [*inside, "libvirtd", "-d", "-p", LIBVIRTD_PID])
    version = [*inside, "virsh", "-c", LOCAL_URI, "version"]
    try:
        wait_until(lambda: succeeds(version), DAEMON_TIMEOUT, "B's libvirtd")
    except RigError as exc:
        log = plan.private_source("/var/log/libvirt") / "libvirtd.log"
        raise RigError(f"{exc}; its log: {_tail(log)} {_tail(plan.dir / 'daemons.log')}") from exc


def _daemon(plan: RigPlan, argv: list[str]) -> None:
    """Start a daemon that forks into the background (its output to daemons.log)."""
    with (plan.dir / "daemons.log").open("ab") as log:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60, check=False
        )
    if done.returncode != 0:
        raise RigError(f"{' '.join(argv)} exited {done.returncode}: {_tail(log.name)}")


def _sshd(workdir: Path, address: str, port: int | None, launcher: list[str]) -> PrivateSshd:
    try:
        return PrivateSshd.start(workdir, address=address, port=port, launcher=launcher)
    except SshdUnavailableError as exc:
        raise RigError(f"the rig's sshd on {address}: {exc}") from exc


def _libvirt_uri(plan: RigPlan, sshd: PrivateSshd) -> str:
    return f"qemu+ssh://{sshd.netloc}/system?command={plan.ssh_command}"


def _check_reachable(rig: TwoHosts) -> None:
    """A reaches B's libvirtd over SSH, and B reaches A's, each answering its own name."""
    seen_from_a = run(["virsh", "-c", rig.b.libvirt_uri, "hostname"]).strip()
    seen_from_b = rig.run_on_b(["virsh", "-c", rig.a.libvirt_uri, "hostname"]).strip()
    if (seen_from_a, seen_from_b) != (rig.b.hostname, rig.a.hostname):
        raise RigError(
            f"the rig's hosts answer as {seen_from_b!r} and {seen_from_a!r}, "
            f"expected {rig.a.hostname!r} and {rig.b.hostname!r}"
        )


def stop(directory: Path) -> None:
    """Tear down the rig recorded in ``directory`` and remove the directory. Only what
    rig.json names is touched (processes checked by start time too); a directory without
    it is refused."""
    path = directory / "rig.json"
    if not directory.exists():
        return
    if not path.exists():
        raise RigError(f"{directory} holds no rig.json; not a two-host rig, left alone")
    state = _read_state(directory)
    for key in ("init", "unshare"):  # B's init first: all of B goes with it
        if key in state:
            Proc(*state[key]).kill()
    for key in ("sshd_b", "sshd_a"):
        if key in state:
            Proc(*state[key]).kill(group=True)
    if "veth" in state:
        veth = Path("/sys/class/net") / state["veth"]
        with contextlib.suppress(RigError):  # the netns goes asynchronously, the veth with it
            wait_until(lambda: not veth.exists(), 10, "the veth to go")
        if veth.exists():
            run(["ip", "link", "del", veth.name])
    shutil.rmtree(directory)


def _proc(sshd: PrivateSshd) -> list[int]:
    return _record(Proc.of(sshd.process.pid))


def _record(proc: Proc) -> list[int]:
    return [proc.pid, proc.start]


def _tail(path: Path | str, chars: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return Path(path).read_text(errors="replace")[-chars:].strip()
    return "(no log)"


def sweep(parent: Path = RIGS_DIR) -> list[Path]:
    """Remove what is left of tied rigs whose processes are all gone (a test run killed
    before its teardown): the directory, and the veth if still there. A rig being built or
    running, or a directory that is not a rig, is left alone."""
    removed = []
    for directory in sorted(parent.glob(f"{RIG_PREFIX}*")):
        with contextlib.suppress(OSError, ValueError):
            state = _read_state(directory)
            recorded = [Proc(*state[key]) for key in ("init", "unshare", "sshd_a", "sshd_b")
                        if key in state]  # fmt: skip
            if "unshare" in state and not any(proc.alive() for proc in recorded):
                with contextlib.suppress(RigError, OSError):  # its owner may be removing it too
                    stop(directory)
                    removed.append(directory)
    return removed


def _read_state(directory: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((directory / "rig.json").read_text() or "{}")
    return state
