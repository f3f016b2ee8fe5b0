"""SshHost connection behaviour against the real test sshd: trust, auth, sharing, recovery."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from pulumi_vigo_vm.errors import HostError, HostUnreachableError
from pulumi_vigo_vm.hosts import host_for_uri
from pulumi_vigo_vm.hosts.ssh import (
    SshHost,
    close_all_ssh_hosts,
    opened_ssh_connection_count,
    ssh_host_for_uri,
)
from pulumi_vigo_vm.hosts.ssh._paramiko import create_private, fsync
from pulumi_vigo_vm.testing.sshd import PrivateSshd
from pulumi_vigo_vm.virt.connection import forget_connection
from pulumi_vigo_vm.virt.hypervisor import Hypervisor


def uri_for(sshd: PrivateSshd, **params: str | Path) -> str:
    query = {"keyfile": sshd.client_key, "known_hosts": sshd.known_hosts, **params}
    encoded = "&".join(f"{k}={v}" for k, v in query.items() if v != "")
    return f"qemu+ssh://root@127.0.0.1:{sshd.port}/system?{encoded}"


def new_key(directory: Path, name: str) -> Path:
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


# ------------------------------------------------------------------------- trust and auth


def test_unknown_host_key_is_refused_with_fingerprint_and_fix(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    before = opened_ssh_connection_count()
    host = SshHost.from_uri(uri_for(sshd, known_hosts=empty))
    with pytest.raises(HostUnreachableError) as info:
        host.stat("/")
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "SHA256:" in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in message
    assert empty.read_text() == ""  # never learnt
    assert opened_ssh_connection_count() == before


def test_changed_host_key_is_refused(sshd: PrivateSshd, tmp_path: Path) -> None:
    other = new_key(tmp_path, "impostor")
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    with pytest.raises(HostUnreachableError, match="does NOT match"):
        SshHost.from_uri(uri_for(sshd, known_hosts=known)).run(["true"])


def test_wrong_client_key_is_refused(sshd: PrivateSshd, tmp_path: Path) -> None:
    stranger = new_key(tmp_path, "stranger")
    with pytest.raises(HostUnreachableError, match=r"authentication as root .* refused"):
        SshHost.from_uri(uri_for(sshd, keyfile=stranger)).listdir("/")


def test_missing_keyfile_is_named(sshd: PrivateSshd, tmp_path: Path) -> None:
    with pytest.raises(HostUnreachableError, match="does not exist"):
        SshHost.from_uri(uri_for(sshd, keyfile=tmp_path / "nope"))


def test_unreachable_host_is_named(sshd: PrivateSshd) -> None:
    closed_port = sshd.port + 1 if sshd.port < 65535 else sshd.port - 1
    uri = f"qemu+ssh://root@127.0.0.1:{closed_port}/system?keyfile={sshd.client_key}"
    with pytest.raises(HostUnreachableError, match=f"127.0.0.1:{closed_port}"):
        SshHost.from_uri(uri).stat("/")


def test_ssh_config_and_default_known_hosts(
    sshd: PrivateSshd, isolated_home: Path, tmp_path: Path
) -> None:
    """~/.ssh/config supplies HostName, Port, User and IdentityFile, as for the ssh binary."""
    dot_ssh = isolated_home / ".ssh"
    dot_ssh.mkdir()
    (dot_ssh / "known_hosts").write_text(sshd.known_hosts.read_text())
    (dot_ssh / "config").write_text(
        f"Host hv-alias\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {sshd.client_key}\n"
    )
    host = SshHost.from_uri("qemu+ssh://hv-alias/system")
    try:
        assert host.name == f"root@hv-alias:{sshd.port}"
        assert host.run(["id", "-un"]).stdout.strip() == "root"
    finally:
        host.close()


def _config_for(sshd: PrivateSshd, home: Path, alias: str, extra: str) -> None:
    """~/.ssh/config naming the test sshd as ``alias`` (plus ``extra`` lines), and its key
    in ~/.ssh/known_hosts."""
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(exist_ok=True)
    (dot_ssh / "known_hosts").write_text(sshd.known_hosts.read_text())
    (dot_ssh / "config").write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {sshd.client_key}\n{extra}"
    )


def test_proxy_command_carries_the_connection(
    sshd: PrivateSshd, isolated_home: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "proxy-used"
    proxy = f"sh -c 'echo %h:%p >> {trace}; exec nc %h %p'"
    _config_for(sshd, isolated_home, "hv-cmd", f"  ProxyCommand {proxy}\n")
    host = SshHost.from_uri("qemu+ssh://hv-cmd/system")
    try:
        assert host.run(["id", "-un"]).stdout.strip() == "root"
    finally:
        host.close()
    assert trace.read_text() == f"127.0.0.1:{sshd.port}\n"


def test_proxy_jump_goes_through_the_jump_hosts_transport(
    sshd: PrivateSshd, isolated_home: Path
) -> None:
    """The jump host is the same sshd: two authenticated connections, the second one carried
    by a direct-tcpip channel of the first; libvirt rides through both."""
    _config_for(sshd, isolated_home, "hv-jumped", f"  ProxyJump root@127.0.0.1:{sshd.port}\n")
    (isolated_home / ".ssh" / "config").write_text(
        (isolated_home / ".ssh" / "config").read_text()
        + f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n"
    )
    close_all_ssh_hosts()
    before = sshd.accepted_connections()
    uri = "qemu+ssh://hv-jumped/system"
    try:
        host = host_for_uri(uri)
        assert host.run(["id", "-un"]).stdout.strip() == "root"
        assert Hypervisor(uri).architecture() == Hypervisor("qemu:///system").architecture()
        assert sshd.accepted_connections() - before == 2
        # the hypervisor's transport runs over a channel of the jump host's, not a socket
        assert isinstance(host.connection.client.get_transport().sock, paramiko.Channel)  # type: ignore[attr-defined,union-attr]
    finally:
        forget_connection(uri)
        close_all_ssh_hosts()


def test_proxy_jump_loop_is_refused_with_a_hint(sshd: PrivateSshd, isolated_home: Path) -> None:
    _config_for(sshd, isolated_home, "*", "  ProxyJump hv-loop\n")
    with pytest.raises(HostError, match=r"ProxyJump loop: root@hv-loop:\d+ -> root@hv-loop"):
        SshHost.from_uri("qemu+ssh://hv-loop/system").run(["true"])


def test_ssh_agent_supplies_the_key(
    sshd: PrivateSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(agent_sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not agent_sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(agent_sock)}
        subprocess.run(["ssh-add", str(sshd.client_key)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(agent_sock))
        host = SshHost.from_uri(uri_for(sshd, keyfile=""))
        try:
            assert host.run(["true"]).returncode == 0
        finally:
            host.close()
    finally:
        agent.terminate()
        agent.wait()


# ------------------------------------------------------------------------- sharing


def test_one_transport_per_host_across_many_calls_and_uris(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    close_all_ssh_hosts()
    before = opened_ssh_connection_count()
    first = ssh_host_for_uri(sshd.uri)
    assert host_for_uri(sshd.uri) is first
    assert ssh_host_for_uri(uri_for(sshd)) is first  # same (user, host, port), other URI text
    (tmp_path / "f").write_bytes(b"z" * 10)
    for _ in range(50):
        assert first.stat(str(tmp_path / "f")) is not None
        first.listdir(str(tmp_path))
    for _ in range(5):
        first.run(["true"])
    first.write_atomic(str(tmp_path / "g"), b"g", 0o644)
    assert b"".join(first.read_chunks(str(tmp_path / "g"))) == b"g"
    assert opened_ssh_connection_count() == before + 1


def test_uris_with_other_trust_or_identity_get_their_own_verified_connection(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    """A later URI's known_hosts= and keyfile= are honoured, not masked by a connection that
    an earlier URI to the same account opened with its own files."""
    close_all_ssh_hosts()
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    stranger = new_key(tmp_path, "stranger")
    copy = tmp_path / "copy_known_hosts"
    copy.write_text(sshd.known_hosts.read_text())
    try:
        first = ssh_host_for_uri(sshd.uri)
        first.run(["true"])
        before = opened_ssh_connection_count()

        untrusting = ssh_host_for_uri(uri_for(sshd, known_hosts=empty))
        assert untrusting is not first
        with pytest.raises(HostUnreachableError, match="is not in"):
            untrusting.run(["true"])
        with pytest.raises(HostUnreachableError, match=r"authentication as root .* refused"):
            host_for_uri(uri_for(sshd, keyfile=stranger)).stat("/")

        other_file = ssh_host_for_uri(uri_for(sshd, known_hosts=copy))
        assert other_file is not first
        other_file.run(["true"])
        assert opened_ssh_connection_count() == before + 1
        # URIs that agree keep sharing, whatever the order of their query
        agreeing = f"{sshd.uri.split('?')[0]}?known_hosts={copy}&keyfile={sshd.client_key}"
        assert ssh_host_for_uri(agreeing) is other_file
    finally:
        close_all_ssh_hosts()


def test_ten_concurrent_operations(ssh_host: SshHost, tmp_path: Path) -> None:
    ssh_host.stat("/")  # connected
    before = opened_ssh_connection_count()

    def work(i: int) -> None:
        path = str(tmp_path / f"file{i}")
        payload = os.urandom(50_000 + i)
        ssh_host.write_atomic(path, payload, 0o600)
        assert b"".join(ssh_host.read_chunks(path, chunk_size=8192)) == payload
        st = ssh_host.stat(path)
        assert st is not None
        assert st.size == len(payload)
        assert ssh_host.run(["wc", "-c", path]).stdout.split()[0] == str(len(payload))
        assert f"file{i}" in ssh_host.listdir(str(tmp_path))
        ssh_host.makedirs(str(tmp_path / "shared" / "dir"))
        assert ssh_host.remove(path) is True

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(work, range(40)))
    assert opened_ssh_connection_count() == before
    assert sorted(os.listdir(tmp_path)) == ["shared"]


def test_concurrent_copies_on_one_host_do_not_deadlock(ssh_host: SshHost, tmp_path: Path) -> None:
    """A reader and a writer at once in each of 10 threads (copying a file on the host)."""
    (tmp_path / "src").write_bytes(os.urandom(400_000))

    def copy(i: int) -> None:
        with ssh_host.open_atomic_writer(str(tmp_path / f"dst{i}"), 0o644) as out:
            for chunk in ssh_host.read_chunks(str(tmp_path / "src"), chunk_size=32768):
                out.write(chunk)

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(copy, i) for i in range(10)]
        for future in futures:
            future.result(timeout=60)
    source = (tmp_path / "src").read_bytes()
    assert all((tmp_path / f"dst{i}").read_bytes() == source for i in range(10))


# ------------------------------------------------------------------------- private API


def test_paramiko_private_requests_work_against_openssh(
    fresh_ssh_host: SshHost, tmp_path: Path
) -> None:
    # The two requests made through paramiko's private API: if an upgrade breaks them,
    # atomic writes would silently lose their 0600-from-creation or their fsync.
    transport, _ = fresh_ssh_host.connection.transport()
    sftp = paramiko.SFTPClient.from_transport(transport)
    assert sftp is not None
    path = tmp_path / "private"
    try:
        remote = create_private(sftp, str(path))
        assert path.stat().st_mode & 0o777 == 0o600
        remote.write(b"durable")
        remote.flush()
        assert fsync(remote), "the server did not confirm fsync@openssh.com"
        remote.close()
        with pytest.raises(OSError):  # exclusive: an existing name is refused
            create_private(sftp, str(path))
    finally:
        sftp.close()
    assert path.read_bytes() == b"durable"


# ------------------------------------------------------------------------- recovery


def _client_port(host: SshHost) -> int:
    client = host.connection.client
    assert client is not None
    port: int = client.get_transport().sock.getsockname()[1]
    return port


def test_dropped_connection_is_reopened_for_the_next_operation(
    sshd: PrivateSshd, fresh_ssh_host: SshHost, tmp_path: Path
) -> None:
    host = fresh_ssh_host
    (tmp_path / "f").write_text("x")
    assert host.stat(str(tmp_path / "f")) is not None
    before = opened_ssh_connection_count()

    assert sshd.kill_connection_from(_client_port(host)), "no sshd process held the connection"
    assert host.stat(str(tmp_path / "f")) is not None  # SFTP: reconnect, retry once
    assert opened_ssh_connection_count() == before + 1

    assert sshd.kill_connection_from(_client_port(host))
    time.sleep(0.2)  # the transport notices the EOF: the next command starts on a new one
    assert host.run(["cat", str(tmp_path / "f")]).stdout == "x"
    assert opened_ssh_connection_count() == before + 2


def test_connection_dropped_while_a_command_runs_is_reported(
    sshd: PrivateSshd, fresh_ssh_host: SshHost
) -> None:
    host = fresh_ssh_host
    host.run(["true"])
    port = _client_port(host)
    killer = threading.Timer(0.5, sshd.kill_connection_from, args=(port,))
    killer.start()
    with pytest.raises(HostUnreachableError, match="may or may not have completed"):
        host.run(["sleep", "30"])
    killer.join()
    assert host.run(["echo", "back"]).stdout == "back\n"


def test_dropped_connection_during_a_read_resumes(
    sshd: PrivateSshd, fresh_ssh_host: SshHost, tmp_path: Path
) -> None:
    payload = os.urandom(200_000)
    (tmp_path / "blob").write_bytes(payload)
    stream = fresh_ssh_host.read_chunks(str(tmp_path / "blob"), chunk_size=50_000)
    first = next(stream)
    sshd.kill_connection_from(_client_port(fresh_ssh_host))
    assert first + b"".join(stream) == payload
