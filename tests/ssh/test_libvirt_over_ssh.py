"""libvirt's own SSH transports against the test sshd, reaching this machine's libvirtd.

The provider opens libvirt with exactly the user's URI, so these pin down which URI
parameters make libvirt non-interactive *and* host-key verified:

* ``qemu+ssh://`` spawns the ``ssh`` binary. ``no_tty=1`` adds ``-T -o BatchMode=yes``
  (never prompts; an unknown host key fails at once). libvirt does not pass ``known_hosts``
  to ``ssh``: the key must be in the user's ``~/.ssh/known_hosts`` (home from the passwd
  entry, not $HOME) or the system's ``/etc/ssh/ssh_known_hosts``.
* ``qemu+libssh://`` uses libssh in-process and honours ``known_hosts=`` (with
  ``known_hosts_verify=normal``, the default) and ``keyfile=``; ``sshauth=privkey`` keeps
  it from trying interactive methods.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_vigo_vm.testing.sshd import PrivateSshd, trusted_by_ssh_binary

pytestmark = pytest.mark.libvirt

PROBE = (
    "import libvirt, sys; c = libvirt.open(sys.argv[1]); "
    "print(c.getType(), len(c.listAllDomains())); c.close()"
)


def libvirt_open(uri: str) -> subprocess.CompletedProcess[str]:
    """Open ``uri`` in a child process: a prompt or hang fails the test instead of wedging it."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, uri], capture_output=True, text=True, timeout=60
    )


def test_qemu_ssh_unknown_host_key_fails_without_prompting(sshd: PrivateSshd) -> None:
    result = libvirt_open(sshd.uri)
    assert result.returncode != 0
    assert "Host key verification failed" in result.stderr


def test_qemu_ssh_with_known_host_key_connects(sshd: PrivateSshd) -> None:
    with trusted_by_ssh_binary(sshd):
        result = libvirt_open(sshd.uri)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("QEMU ")


def test_qemu_libssh_honours_known_hosts_parameter(sshd: PrivateSshd, tmp_path: Path) -> None:
    base = f"qemu+libssh://root@127.0.0.1:{sshd.port}/system?keyfile={sshd.client_key}"
    good = libvirt_open(f"{base}&known_hosts={sshd.known_hosts}&sshauth=privkey")
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip().startswith("QEMU ")

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = libvirt_open(f"{base}&known_hosts={empty}&sshauth=privkey&known_hosts_verify=normal")
    assert refused.returncode != 0
    assert empty.read_text() == ""
