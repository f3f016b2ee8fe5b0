"""known_hosts as OpenSSH writes it: @revoked and @cert-authority markers, hashed names,
wildcards, damaged lines — against the real test sshd, before any authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from pulumi_vigo_vm.errors import HostUnreachableError
from pulumi_vigo_vm.hosts.ssh import SshHost
from pulumi_vigo_vm.testing.sshd import PrivateSshd


def pub(path: Path) -> str:
    """``type base64`` of an OpenSSH public key file."""
    kind, blob = path.with_suffix(".pub").read_text().split()[:2]
    return f"{kind} {blob}"


def fingerprint(path: Path) -> str:
    kind, blob = pub(path).split()
    return str(paramiko.PKey.from_type_string(kind, base64.b64decode(blob)).fingerprint)


def name(sshd: PrivateSshd) -> str:
    return f"[127.0.0.1]:{sshd.port}"


def uri(sshd: PrivateSshd, known_hosts: Path | None = None) -> str:
    query = f"keyfile={sshd.client_key}"
    if known_hosts is not None:
        query += f"&known_hosts={known_hosts}"
    return f"qemu+ssh://root@127.0.0.1:{sshd.port}/system?{query}"


@pytest.fixture
def global_known_hosts(isolated_home: Path, tmp_path: Path) -> Path:
    """The system-wide known_hosts position (GlobalKnownHostsFile, /etc/ssh/ssh_known_hosts
    by default) pointed at a test file by ~/.ssh/config, so /etc is never touched."""
    dot_ssh = isolated_home / ".ssh"
    dot_ssh.mkdir(exist_ok=True)
    system = tmp_path / "ssh_known_hosts"
    (dot_ssh / "config").write_text(f"Host *\n  GlobalKnownHostsFile {system}\n")
    return system


@pytest.fixture
def user_known_hosts(isolated_home: Path) -> Path:
    dot_ssh = isolated_home / ".ssh"
    dot_ssh.mkdir(exist_ok=True)
    return dot_ssh / "known_hosts"


@pytest.fixture
def connect() -> Iterator[list[SshHost]]:
    """Hosts opened by a test, closed after it."""
    opened: list[SshHost] = []
    yield opened
    for host in opened:
        host.close()


def reach(opened: list[SshHost], target: str) -> str:
    host = SshHost.from_uri(target)
    opened.append(host)
    return host.run(["id", "-un"]).stdout.strip()


# ------------------------------------------------------------------------- accepted


def test_marker_lines_for_other_hosts_and_damaged_lines_are_skipped(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        "# a comment\n\n"
        f"@cert-authority *.example.com {pub(sshd.client_key)}\n"
        f"@revoked other.example.com {pub(sshd.client_key)}\n"
        "@revoked\n"
        f"@future-marker {name(sshd)} {pub(sshd.client_key)}\n"
        f"{name(sshd)} ssh-ed25519 not-base64!!\n"
        f"{name(sshd)} sk-ssh-ed25519@openssh.com AAAA\n"
        "|1|broken-hash ssh-ed25519 AAAA\n"
        "too few\n"
        f"{name(sshd)} {pub(sshd.host_key)}\n"
    )
    assert reach(connect, uri(sshd, known)) == "root"


def test_markers_in_the_system_file_do_not_break_connections(
    sshd: PrivateSshd, global_known_hosts: Path, user_known_hosts: Path, connect: list[SshHost]
) -> None:
    global_known_hosts.write_text(
        f"@cert-authority * {pub(sshd.client_key)}\n@revoked * {pub(sshd.client_key)}\n"
    )
    user_known_hosts.write_text(f"{name(sshd)} {pub(sshd.host_key)}\n")
    assert reach(connect, uri(sshd)) == "root"


def test_hashed_and_wildcard_names_are_matched(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    salt = os.urandom(20)
    digest = hmac.new(salt, name(sshd).encode(), hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    first = tmp_path / "hashed"
    first.write_text(f"@cert-authority * {pub(sshd.client_key)}\n{hashed} {pub(sshd.host_key)}\n")
    assert reach(connect, uri(sshd, first)) == "root"
    second = tmp_path / "wildcard"
    second.write_text(f"other,[127.0.0.?]:* {pub(sshd.host_key)}\n")
    assert reach(connect, uri(sshd, second)) == "root"


def test_a_negated_name_exempts_the_host_from_a_revocation(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        f"@revoked *,!{name(sshd)} {pub(sshd.host_key)}\n{name(sshd)} {pub(sshd.host_key)}\n"
    )
    assert reach(connect, uri(sshd, known)) == "root"


# ------------------------------------------------------------------------- refused


def test_revoked_key_is_refused_even_when_also_trusted(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        f"{name(sshd)} {pub(sshd.host_key)}\n@revoked {name(sshd)} {pub(sshd.host_key)}\n"
    )
    before = sshd.accepted_connections()
    with pytest.raises(HostUnreachableError) as info:
        reach(connect, uri(sshd, known))
    message = str(info.value)
    assert f"root@127.0.0.1:{sshd.port}" in message
    assert f"@revoked in {known}" in message
    assert fingerprint(sshd.host_key) in message
    assert sshd.accepted_connections() == before  # refused before authenticating


def test_revoked_in_the_system_file_overrides_the_users_trust(
    sshd: PrivateSshd, global_known_hosts: Path, user_known_hosts: Path, connect: list[SshHost]
) -> None:
    user_known_hosts.write_text(f"{name(sshd)} {pub(sshd.host_key)}\n")
    global_known_hosts.write_text(f"@revoked * {pub(sshd.host_key)}\n")
    with pytest.raises(HostUnreachableError, match=f"@revoked in {global_known_hosts}"):
        reach(connect, uri(sshd))


def test_revoked_key_is_named_when_another_key_of_its_type_is_trusted(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        f"{name(sshd)} {pub(sshd.client_key)}\n@revoked * {pub(sshd.host_key)}\n"
    )  # both ed25519: paramiko sees a mismatch, the message must still say "revoked"
    with pytest.raises(HostUnreachableError, match="@revoked"):
        reach(connect, uri(sshd, known))


def test_host_known_only_through_a_cert_authority_is_refused_clearly(
    sshd: PrivateSshd, tmp_path: Path, connect: list[SshHost]
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority [127.0.0.1]:* {pub(sshd.client_key)}\n")
    before = sshd.accepted_connections()
    with pytest.raises(HostUnreachableError) as info:
        reach(connect, uri(sshd, known))
    message = str(info.value)
    assert "certificate-based host verification is not supported" in message
    assert str(known) in message
    assert "plain key must be in known_hosts" in message
    assert fingerprint(sshd.host_key) in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in message
    assert sshd.accepted_connections() == before
