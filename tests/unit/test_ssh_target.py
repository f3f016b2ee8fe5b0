"""resolve_ssh_target and ProxyJump hops: URI + ~/.ssh/config → where and how to connect."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from pulumi_vigo_vm.errors import HostError
from pulumi_vigo_vm.hosts.ssh import resolve_ssh_target
from pulumi_vigo_vm.hosts.ssh.destination import jump_target
from pulumi_vigo_vm.hosts.ssh.known_hosts import host_matches


@pytest.fixture
def ssh_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ~/.ssh/config in a private HOME; tests write the lines they need."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".ssh" / "config"
    config.parent.mkdir()
    config.write_text("")
    return config


def test_uri_values_win_over_ssh_config(ssh_config: Path) -> None:
    ssh_config.write_text("Host hv1\n  HostName 10.0.0.5\n  Port 2200\n  User admin\n")
    target = resolve_ssh_target("qemu+ssh://root@hv1:2222/system")
    assert (target.hostname, target.port, target.user) == ("10.0.0.5", 2222, "root")
    assert (target.proxy_jump, target.proxy_command) == ("", "")


def test_proxy_command_tokens_are_expanded(ssh_config: Path) -> None:
    ssh_config.write_text("Host hv1\n  ProxyCommand nc -X 5 -x socks:1080 %h %p\n")
    assert resolve_ssh_target("qemu+ssh://hv1/system").proxy_command == (
        "nc -X 5 -x socks:1080 hv1 22"
    )


def test_proxy_none_means_direct(ssh_config: Path) -> None:
    ssh_config.write_text("Host hv1\n  ProxyJump none\n  ProxyCommand none\n")
    target = resolve_ssh_target("qemu+ssh://hv1/system")
    assert (target.proxy_jump, target.proxy_command) == ("", "")


@pytest.mark.parametrize(
    ("jump", "expected"),
    [
        ("bastion", ("bastion", 22, "")),
        ("ops@bastion:2222", ("bastion", 2222, "ops")),
        ("ssh://ops@bastion:2222", ("bastion", 2222, "ops")),
        ("ops@[2001:db8::1]:2222", ("2001:db8::1", 2222, "ops")),
    ],
)
def test_jump_host_forms(ssh_config: Path, jump: str, expected: tuple[str, int, str]) -> None:
    ssh_config.write_text(f"Host hv1\n  ProxyJump {jump}\n")
    target = resolve_ssh_target("qemu+ssh://root@hv1/system?known_hosts=/kh")
    hop = jump_target(target)
    user = expected[2] or getpass.getuser()  # no user given (nor in ssh_config): the local one
    assert (hop.hostname, hop.port, hop.user) == (expected[0], expected[1], user)
    assert hop.known_hosts == ("/kh",) and hop.known_hosts_explicit  # trusted like the target
    assert hop.reached_for == (target.name,)


def test_a_chain_is_walked_from_the_last_hop(ssh_config: Path) -> None:
    ssh_config.write_text("Host hv1\n  ProxyJump outer,inner:2201\n")
    inner = jump_target(resolve_ssh_target("qemu+ssh://hv1/system"))
    assert (inner.hostname, inner.port, inner.proxy_jump) == ("inner", 2201, "outer")
    outer = jump_target(inner)
    assert (outer.hostname, outer.proxy_jump) == ("outer", "")


def test_the_jump_hosts_own_config_applies(ssh_config: Path) -> None:
    ssh_config.write_text(
        "Host hv1\n  ProxyJump gw\nHost gw\n  HostName 192.0.2.7\n  Port 2022\n  User gate\n"
    )
    hop = jump_target(resolve_ssh_target("qemu+ssh://hv1/system"))
    assert (hop.hostname, hop.port, hop.user) == ("192.0.2.7", 2022, "gate")


@pytest.mark.parametrize("jump", ["@", "ops@bastion:ssh", "ops@:22"])
def test_unparseable_jump_is_refused(ssh_config: Path, jump: str) -> None:
    ssh_config.write_text(f"Host hv1\n  ProxyJump {jump}\n")
    with pytest.raises(HostError, match=r"ProxyJump .* is not understood"):
        jump_target(resolve_ssh_target("qemu+ssh://hv1/system"))


def test_trust_and_identity_are_part_of_the_connection_key(
    ssh_config: Path, tmp_path: Path
) -> None:
    (tmp_path / "a").write_text("")
    (tmp_path / "b").write_text("")
    base = "qemu+ssh://root@hv1:2222/system"
    keys = {
        resolve_ssh_target(f"{base}?{query}").key
        for query in (
            "",
            f"known_hosts={tmp_path}/kh1",
            f"keyfile={tmp_path}/a",
            f"keyfile={tmp_path}/b",
            f"keyfile={tmp_path}/b&known_hosts={tmp_path}/kh1",
        )
    }
    assert len(keys) == 5
    assert (
        resolve_ssh_target(f"{base}?keyfile={tmp_path}/a&known_hosts={tmp_path}/kh1").key
        == resolve_ssh_target(f"{base}?known_hosts={tmp_path}/kh1&keyfile={tmp_path}/a").key
    )


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("[hv1]:2222", True),
        ("HV1.example.com,[HV1]:2222", True),  # case-insensitive, any of a list
        ("[hv1]:22", False),
        ("[hv?]:*", True),
        ("*", True),
        ("*,![hv1]:2222", False),  # a matching negation wins
        ("![other]:2222,*", True),
        ("[hv1]:2222.", False),  # "." is literal, not a regex
        ("|1|not-base64|x", False),
        ("|1|", False),
    ],
)
def test_known_hosts_name_patterns(names: str, expected: bool) -> None:
    assert host_matches(names, "[hv1]:2222") is expected
