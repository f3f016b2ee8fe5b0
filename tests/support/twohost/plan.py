"""What the two-host rig is made of, decided without touching anything: names, addresses and
the text of every file it writes (pure; :mod:`.rig` carries it out).

Rig number ``n`` (0..63) owns the veth pair ``vgrig<n>a`` (host A's end, in this machine's
network namespace) and ``vgrig<n>b`` (host B's end, moved into B's), and the /30
``198.19.252.<4n>/30`` of the benchmarking range 198.18.0.0/15: A is ``.4n+1``, B is
``.4n+2``. Creating the veth is the reservation (the kernel refuses a second link of that
name), so two rigs on one machine (two worktrees' test runs) never share a number.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

RIGS = 64
"""How many rigs fit in 198.19.252.0/24, one /30 each."""

SUBNET = ipaddress.IPv4Network("198.19.252.0/24")

PRIVATE_DIRS = ("/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
"""Host B's own copies, bind-mounted over these in its mount namespace; every other path
(``/var/tmp``, the worktree, the test images) is the same file on both hosts: the rig's
shared storage."""

HIDDEN_DIRS = ("/run/systemd", "/run/dbus")
"""Covered by an empty tmpfs in B, when they exist here, so that B's libvirtd neither
registers its guests with this machine's systemd-machined nor places them in its cgroups."""

RUN_DIR = "/run/libvirt"
"""B's runtime directory: a private tmpfs (sockets, pid files, domain status)."""

LIBVIRTD_PID = f"{RUN_DIR}/libvirtd.pid"
VIRTLOGD_PID = f"{RUN_DIR}/virtlogd.pid"
LIBVIRT_SOCK = f"{RUN_DIR}/libvirt-sock"
VIRTLOGD_SOCK = f"{RUN_DIR}/virtlogd-sock"


@dataclass(frozen=True)
class RigPlan:
    """The names and addresses of rig number ``index``, and where its files live."""

    index: int
    dir: Path
    host_uuid: str

    @property
    def veth_a(self) -> str:
        return f"vgrig{self.index}a"

    @property
    def veth_b(self) -> str:
        return f"vgrig{self.index}b"

    @property
    def address_a(self) -> str:
        return str(SUBNET.network_address + 4 * self.index + 1)

    @property
    def address_b(self) -> str:
        return str(SUBNET.network_address + 4 * self.index + 2)

    @property
    def hostname_b(self) -> str:
        return f"vigo-rig-b{self.index}"

    @property
    def b_root(self) -> Path:
        """Where B's private directories live on this machine (``b/etc/libvirt``, ...)."""
        return self.dir / "b"

    def private_source(self, path: str) -> Path:
        """This machine's directory bind-mounted over ``path`` (one of PRIVATE_DIRS) in B."""
        return self.b_root / path.lstrip("/")

    @property
    def hosts_file(self) -> Path:
        return self.b_root / "hosts"

    @property
    def ssh_command(self) -> Path:
        """The ``ssh`` a libvirt URI names with ``?command=``: the rig's keys and known_hosts."""
        return self.dir / "bin" / "ssh"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def state_file(self) -> Path:
        """What was built so far (pids, links), for the teardown; its presence marks the
        directory as the rig's own."""
        return self.dir / "rig.json"


def free_index(taken_links: set[str], taken_addresses: set[str]) -> int:
    """The lowest rig number whose veth names and addresses nobody on this machine uses."""
    for index in range(RIGS):
        plan = RigPlan(index, Path("/"), "")
        if {plan.veth_a, plan.veth_b} & taken_links:
            continue
        if {plan.address_a, plan.address_b} & taken_addresses:
            continue
        return index
    raise RuntimeError(
        f"all {RIGS} two-host rigs of {SUBNET} are in use on this machine; "
        "tear the stale ones down: python -m tests.support.twohost down --dir DIR"
    )


def overridden(text: str, settings: dict[str, str]) -> str:
    """A libvirt config file (``key = value`` lines, lists may span lines) with ``settings``
    in force: the file's own assignments of those keys commented out (libvirt reads the
    first), ours appended."""
    keys = re.compile(r"^\s*(" + "|".join(map(re.escape, settings)) + r")\s*=")
    lines, in_list = [], False
    for line in text.splitlines():
        if in_list or keys.match(line):
            in_list = line.count("[") > line.count("]") or (in_list and "]" not in line)
            lines.append("#" + line)
        else:
            lines.append(line)
    lines.append("# the two-host rig's host B")
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def libvirtd_settings(plan: RigPlan) -> dict[str, str]:
    """B's libvirtd.conf: its own host UUID (libvirt refuses to migrate to a host with the
    source's UUID) and a log file in its private log directory (warnings and errors)."""
    return {
        "host_uuid": f'"{plan.host_uuid}"',
        "log_outputs": '"3:file:/var/log/libvirt/libvirtd.log"',
    }


def qemu_settings(plan: RigPlan) -> dict[str, str]:
    """B's qemu.conf. No cgroup controllers: without systemd libvirt puts every guest in
    ``/machine/qemu-<id>-<name>.libvirt-qemu`` of each hierarchy, numbering ids per daemon,
    so B's guest could take the directory of A's guest of the same name and id (as in a
    migration) and remove it when it stops. Incoming migrations listen on B's veth address,
    and the source is told to connect there (not to B's hostname)."""
    return {
        "cgroup_controllers": "[ ]",
        "migration_address": f'"{plan.address_b}"',
        "migration_host": f'"{plan.address_b}"',
    }


def hosts_text(plan: RigPlan, hostname_a: str) -> str:
    """B's /etc/hosts: its own name, and A's name at A's veth address (a migration to A tells
    B's qemu to connect to A's hostname, which A's unchanged qemu.conf leaves as the name)."""
    return (
        "127.0.0.1 localhost\n"
        "::1 localhost\n"
        f"{plan.address_b} {plan.hostname_b}\n"
        f"{plan.address_a} {hostname_a}\n"
    )


def ssh_config_text(identities: list[Path], known_hosts: list[Path]) -> str:
    """The ssh client config of :attr:`RigPlan.ssh_command`: only the rig's keys and host
    keys (never the user's ``~/.ssh``), no prompt."""
    return (
        "\n".join(
            [
                *(f"IdentityFile {key}" for key in identities),
                "IdentitiesOnly yes",
                "UserKnownHostsFile " + " ".join(map(str, known_hosts)),
                "GlobalKnownHostsFile /dev/null",
                "StrictHostKeyChecking yes",
                "BatchMode yes",
            ]
        )
        + "\n"
    )


def ssh_command_text(ssh: str, config: Path) -> str:
    return f'#!/bin/sh\nexec {ssh} -F {config} "$@"\n'
