"""Which remote daemon a qemu+ssh URI reaches, and the command and local URI that reach it.

These are the pure halves of the tunnel; tests/ssh drives the tunnel itself through sshd.
"""

from __future__ import annotations

import shlex
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest

from pulumi_vigo_vm.errors import HostError
from pulumi_vigo_vm.virt.tunnel import SYSTEM_SOCKET, RemoteDaemon


def test_system_uri_drops_every_transport_parameter() -> None:
    daemon = RemoteDaemon.from_uri(
        "qemu+ssh://root@hv1:2222/system?keyfile=/k&known_hosts=/kh&no_tty=1&sshauth=privkey"
    )
    assert daemon.name == "qemu:///system"
    assert daemon.socket == SYSTEM_SOCKET
    assert (daemon.proxy, daemon.netcat) == ("auto", "nc")


def test_parameters_libvirt_does_not_consume_reach_the_remote_uri() -> None:
    daemon = RemoteDaemon.from_uri("qemu+ssh://hv1/system?keyfile=/k&foo=bar&x=1")
    assert daemon.name == "qemu:///system?foo=bar&x=1"


def test_explicit_name_socket_netcat_and_proxy_win() -> None:
    daemon = RemoteDaemon.from_uri(
        "qemu+ssh://hv1/system?name=qemu:///embed&socket=/s&netcat=/opt/nc&proxy=netcat"
    )
    assert (daemon.name, daemon.socket, daemon.netcat, daemon.proxy) == (
        "qemu:///embed",
        "/s",
        "/opt/nc",
        "netcat",
    )


def test_session_daemon_socket_is_left_to_the_remote_users_runtime_dir() -> None:
    daemon = RemoteDaemon.from_uri("qemu+ssh://hv1/session")
    assert daemon.name == "qemu:///session"
    assert daemon.socket == ""
    assert "$XDG_RUNTIME_DIR/libvirt/libvirt-sock" in daemon.command()


def test_unknown_proxy_is_refused() -> None:
    with pytest.raises(HostError, match="proxy must be auto, native or netcat"):
        RemoteDaemon.from_uri("qemu+ssh://hv1/system?proxy=telnet")


@pytest.mark.parametrize("proxy", ["auto", "native", "netcat"])
def test_command_passes_name_socket_and_netcat_as_arguments_never_as_code(proxy: str) -> None:
    hostile = "qemu:///system?x=$(touch /tmp/pwned)';id;'"
    daemon = RemoteDaemon(hostile, "qemu+unix", "/run/a b", proxy, "nc")
    argv = shlex.split(daemon.command())
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", hostile, "/run/a b", "nc"]
    # the script parses as sh and mentions the data only through $1..$3
    assert subprocess.run(["sh", "-n", "-c", argv[2]], check=False).returncode == 0
    assert hostile not in argv[2] and "/run/a b" not in argv[2]


def test_local_uri_names_the_socket_and_the_remote_uri() -> None:
    daemon = RemoteDaemon.from_uri("qemu+ssh://hv1/system?foo=bar")
    local = urlsplit(daemon.local_uri("/tmp/vigo-libvirt-x/sock"))
    assert (local.scheme, local.netloc, local.path) == ("qemu+unix", "", "/system")
    query = parse_qs(local.query)
    assert query == {"socket": ["/tmp/vigo-libvirt-x/sock"], "name": ["qemu:///system?foo=bar"]}
