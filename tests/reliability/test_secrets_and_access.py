"""Secrets and access: user-data is a secret in state and appears in no log, error or
exception text; seed ISOs and temporary files are not world-readable; SSH host keys are
verified, with no shortcut around it."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
from support.lab import Lab as RelLab

from pulumi_vigo_vm.hosts.local import LocalHost
from pulumi_vigo_vm.hosts.ssh import SshHost
from pulumi_vigo_vm.testing import ProviderError
from pulumi_vigo_vm.testing import props as harness_props
from pulumi_vigo_vm.testing.sshd import PrivateSshd

from .rellab import CheckRpc, ProviderLog

pytestmark = pytest.mark.libvirt


def _user_data() -> tuple[str, str]:
    token = f"S3CRET-{secrets.token_hex(8)}"
    return token, f"#cloud-config\npassword: {token}\nchpasswd: {{expire: false}}\n"


def _plain_occurrences(value: Any, needle: str) -> int:
    """How often ``needle`` appears in ``value`` OUTSIDE a secret wrapper."""
    if harness_props.is_secret(value):
        return 0
    if isinstance(value, dict):
        return sum(_plain_occurrences(v, needle) for v in value.values())
    if isinstance(value, list):
        return sum(_plain_occurrences(v, needle) for v in value)
    return int(isinstance(value, str) and needle in value)


def test_user_data_is_secret_in_state_and_never_printed(
    rlab: RelLab, provider_log: ProviderLog, unredacted: None
) -> None:
    token, user_data = _user_data()
    rlab.vm("a", state="stopped", cloud_init_user_data=user_data)
    result = rlab.up()

    raw = json.loads((rlab.root / "state.json").read_text())
    entry = next(e for urn, e in raw["resources"].items() if urn.endswith("::a"))
    assert "cloud_init_user_data" in entry["secret_inputs"]
    assert "cloud_init_user_data" in entry["secret_outputs"]
    assert _plain_occurrences(raw, token) == 0, "user-data stored outside a secret wrapper"
    assert token not in result.summary()

    # A change of user-data is a replace; the diff, preview and the run print no user-data.
    token2, user_data2 = _user_data()
    rlab.vm("a", state="stopped", cloud_init_user_data=user_data2)
    assert rlab.preview().step("a").op == "replace"
    rlab.up()
    for needle in (token, token2):
        assert needle not in provider_log.text, "user-data in the provider's output"
    rlab.assert_converged()


def test_a_create_failing_after_the_seed_is_written_leaks_no_user_data(
    rlab: RelLab, provider_log: ProviderLog, unredacted: None
) -> None:
    token, user_data = _user_data()
    rlab.vm("a", state="running", cloud_init_user_data=user_data)
    for fault in ("fail-before:define", "fail-before:start"):
        with pytest.raises(ProviderError) as caught:
            rlab.faulty(fault).up()
        assert "injected fault" in str(caught.value)
        assert token not in str(caught.value), "user-data in the error"
        assert token not in repr(caught.value)
        assert token not in (caught.value.result.program_output if caught.value.result else "")
        rlab.assert_clean()
    # A natural failure after the seed and the definition: more memory (8 TiB) than qemu
    # can allocate, found at start (a missing bridge is refused at check now).
    rlab.vm("a", state="running", cloud_init_user_data=user_data, memory_mib=8 * 1024 * 1024)
    with pytest.raises(ProviderError, match=r"[Mm]emory|allocate") as caught:
        rlab.up()
    assert token not in str(caught.value)
    assert token not in provider_log.text, "user-data in the provider's output"
    rlab.assert_clean()

    rlab.vm("a", state="stopped", cloud_init_user_data=user_data)
    rlab.up()
    rlab.assert_converged()


def test_seed_iso_and_overlay_are_not_world_readable(rlab: RelLab) -> None:
    _token, user_data = _user_data()
    rlab.vm("a", state="stopped", cloud_init_user_data=user_data)
    rlab.up()
    for path in [*rlab.seeds("a"), rlab.overlay("a")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {mode:o}"


def _assert_temporary_is_private(host: Any, directory: str) -> None:
    target = f"{directory}/x-seed-00000000.iso"
    with host.open_atomic_writer(target, 0o600) as out:
        out.write(b"secret")
        temporaries = [n for n in host.listdir(directory) if n.startswith(".")]
        assert temporaries, "no temporary file while writing"
        for name in temporaries:
            mode = host.stat(f"{directory}/{name}").mode
            assert mode & 0o077 == 0, f"temporary {name} is {mode:o}"
    assert host.stat(target).mode & 0o077 == 0


def test_temporary_files_are_not_world_readable_while_written(
    tmp_path: Path, sshd: PrivateSshd
) -> None:
    _assert_temporary_is_private(LocalHost(), str(tmp_path))
    remote = tmp_path / "remote"
    remote.mkdir()
    _assert_temporary_is_private(SshHost.from_uri(sshd.uri), str(remote))


# --------------------------------------------------------------------------- SSH host keys


def test_an_unknown_ssh_host_key_is_refused_and_nothing_is_made(
    rlab: RelLab, sshd: PrivateSshd, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    base = f"qemu+ssh://root@127.0.0.1:{sshd.port}/system?keyfile={sshd.client_key}"
    for uri in (f"{base}&known_hosts={empty}", base):  # explicit file; the user's defaults
        rlab.vm("a", state="defined", uri=uri)
        with pytest.raises(ProviderError) as caught:
            rlab.up()
        message = str(caught.value)
        assert "refusing to connect" in message and "SHA256:" in message, message
        assert empty.read_text() == "", "an unknown key was learnt"
        rlab.assert_clean()
    known = Path.home() / ".ssh" / "known_hosts"
    assert not known.exists() or f"{sshd.port}]" not in known.read_text(), "key auto-added"


def test_no_verify_style_shortcuts_are_refused_by_check(check_rpc: CheckRpc) -> None:
    for query in ("no_verify=1", "no_verify=yes"):
        uri = f"qemu+ssh://root@hv1/system?{query}"
        _inputs, failures = check_rpc.check(
            {"vm_name": "a", "memory_mib": 64, "vcpu": 1, "disk_path": "/b.qcow2", "uri": uri}
        )
        assert any(f.property == "uri" and "no_verify" in f.reason for f in failures), query
