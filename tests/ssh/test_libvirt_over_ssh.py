"""libvirt over the host's own SSH connection (virt/tunnel), against the test sshd.

The sshd runs on 127.0.0.1 and its libvirtd is this machine's, so what libvirt sees over the
tunnel can be compared with a direct local connection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pulumi_vigo_vm.errors import HostUnreachableError
from pulumi_vigo_vm.hosts import host_for_uri
from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts, ssh_host_for_uri
from pulumi_vigo_vm.testing.sshd import PrivateSshd
from pulumi_vigo_vm.virt.connection import forget_connection, libvirt_connection
from pulumi_vigo_vm.virt.hypervisor import Hypervisor
from pulumi_vigo_vm.virt.tunnel import _Relay, open_libvirt_over_ssh

from .test_ssh_connection import _client_port, uri_for

pytestmark = pytest.mark.libvirt


@pytest.fixture
def fresh(sshd: PrivateSshd) -> Iterator[str]:
    """The sshd's URI with no cached SSH host or libvirt connection: each test starts cold."""
    close_all_ssh_hosts()
    forget_connection(sshd.uri)
    yield sshd.uri
    forget_connection(sshd.uri)
    close_all_ssh_hosts()


def _helpers(sshd: PrivateSshd, program: str) -> list[int]:
    """Processes named ``program`` that this sshd's sessions are running."""
    found = []
    for pid in sshd.descendants():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == program:
            found.append(pid)
    return found


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_libvirt_files_and_commands_share_one_ssh_connection(
    sshd: PrivateSshd, fresh: str, tmp_path: Path
) -> None:
    before = sshd.accepted_connections()
    hypervisor = Hypervisor(fresh)
    host = host_for_uri(fresh)

    arch_over_ssh = hypervisor.architecture()
    (tmp_path / "f").write_text("x")
    assert host.stat(str(tmp_path / "f")) is not None
    assert host.run(["qemu-img", "--version"]).returncode == 0
    assert hypervisor.lookup("vigo-no-such-domain") is None

    assert arch_over_ssh == Hypervisor("qemu:///system").architecture()
    assert sshd.accepted_connections() - before == 1


@pytest.mark.parametrize("proxy", ["native", "netcat"])
def test_both_remote_helpers_reach_the_daemon(sshd: PrivateSshd, fresh: str, proxy: str) -> None:
    conn = open_libvirt_over_ssh(f"{fresh}&proxy={proxy}")
    try:
        assert conn.getType() == "QEMU"
        assert conn.getLibVersion() > 0
    finally:
        conn.close()


def test_unknown_host_key_is_refused_before_libvirt_is_involved(
    sshd: PrivateSshd, fresh: str, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostUnreachableError, match=r"SSH host key of root@127\.0\.0\.1.*SHA256:"):
        libvirt_connection(uri_for(sshd, known_hosts=empty))
    assert empty.read_text() == ""


def test_unreachable_daemon_error_names_the_host_and_quotes_the_helper(
    sshd: PrivateSshd, fresh: str
) -> None:
    uri = f"{fresh}&proxy=netcat&socket=/nonexistent/libvirt-sock"
    with pytest.raises(HostUnreachableError) as caught:
        libvirt_connection(uri)
    message = str(caught.value)
    assert f"root@127.0.0.1:{sshd.port}" in message
    assert "/nonexistent/libvirt-sock" in message  # nc's own words
    assert "Is libvirtd" in message


def test_missing_helper_error_says_what_to_install(sshd: PrivateSshd, fresh: str) -> None:
    with pytest.raises(HostUnreachableError, match="netcat-openbsd") as caught:
        libvirt_connection(f"{fresh}&proxy=netcat&netcat=/nonexistent/nc")
    assert "/nonexistent/nc" in str(caught.value)


def test_private_socket_is_removed_once_libvirt_is_connected(fresh: str) -> None:
    conn = libvirt_connection(fresh)
    path = Path(parse_qs(urlsplit(conn.getURI()).query)["socket"][0])
    assert path.name == "sock"
    assert not path.exists()
    assert not path.parent.exists()


def test_closing_libvirt_ends_the_remote_helper(sshd: PrivateSshd, fresh: str) -> None:
    conns = [open_libvirt_over_ssh(fresh) for _ in range(3)]
    assert len(_helpers(sshd, "virt-ssh-helper")) == 3
    for conn in conns:
        conn.close()
    assert _wait_until(lambda: not _helpers(sshd, "virt-ssh-helper")), "helpers left running"


def test_killed_ssh_connection_is_reopened_for_the_next_libvirt_call(
    sshd: PrivateSshd, fresh: str
) -> None:
    hypervisor = Hypervisor(fresh)
    hypervisor.lookup("vigo-no-such-domain")
    before = sshd.accepted_connections()

    assert sshd.kill_connection_from(_client_port(ssh_host_for_uri(fresh)))
    hypervisor.architecture()  # a read: retried once on a new connection

    assert sshd.accepted_connections() - before == 1
    assert libvirt_connection(fresh).isAlive() == 1


def test_ten_threads_share_the_tunnelled_connection(sshd: PrivateSshd, fresh: str) -> None:
    before = sshd.accepted_connections()
    hypervisor = Hypervisor(fresh)

    def work(_: int) -> None:
        for _ in range(20):
            assert hypervisor.lookup("vigo-no-such-domain") is None

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(10)))  # re-raises the first failure
    assert sshd.accepted_connections() - before == 1


# ------------------------------------------------------------------------- the relay itself


STRANGER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b"hello")
    print(len(s.recv(10)))
except OSError:
    print(0)
"""


def test_relay_is_a_faithful_pipe_for_this_process_only(fresh: str) -> None:
    """``cat`` on the host echoes what goes in: 8 MiB both ways at once must come back intact,
    and a connection from another process is turned away without seeing a byte."""
    host = ssh_host_for_uri(fresh)
    relay = _Relay(host.open_stream("cat"), host)
    try:
        stranger = subprocess.run(
            [
                sys.executable,
                "-c",
                STRANGER,
                relay.socket_path,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert stranger.stdout.strip() == "0", stranger.stderr

        payload = os.urandom(8 * 1024 * 1024)
        with socket.socket(socket.AF_UNIX) as local:
            local.connect(relay.socket_path)
            sender = threading.Thread(target=local.sendall, args=(payload,))
            sender.start()
            received = bytearray()
            while len(received) < len(payload):
                chunk = local.recv(1 << 20)
                assert chunk, "the relay closed early"
                received += chunk
            sender.join()
        assert bytes(received) == payload
    finally:
        relay.forget_socket()
        relay.close()
