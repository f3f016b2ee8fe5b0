"""A private OpenSSH server on 127.0.0.1 for tests: real sshd, throwaway keys, no mocks.

Used by ``tests/ssh/conftest.py`` as a fixture and runnable by hand or from CI::

    python tests/ssh/sshd.py [WORKDIR]   # prints the URI and key paths, serves until Ctrl-C

Needs the ``openssh-server`` (sshd) and ``openssh-client`` (ssh-keygen) packages and must
run as root (sshd drops privileges per session and the tests log in as root). Everything
lives in one directory: host key, client key, ``authorized_keys``, a ``known_hosts`` that
trusts only this server, the config and the log. Nothing outside it is touched except
``/run/sshd`` (the privilege-separation directory sshd insists on), created if missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PrivateSshd", "SshdUnavailableError"]


class SshdUnavailableError(RuntimeError):
    """sshd could not be started; the message says what is missing and how to install it."""


def _find(binary: str) -> str:
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise SshdUnavailableError(
            f"{binary} not found; install it: apt-get install -y openssh-server openssh-client"
        )
    return found


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        [_find("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "vigo-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def host_pattern(address: str, port: int) -> str:
    """How ssh names ``address:port`` in known_hosts (the bare address on the default port)."""
    return address if port == 22 else f"[{address}]:{port}"


@dataclass
class PrivateSshd:
    """One sshd process listening on ``address:port`` (127.0.0.1 unless told), and the files
    a client needs."""

    workdir: Path
    port: int
    host_key: Path
    client_key: Path
    known_hosts: Path
    log: Path
    process: subprocess.Popen[bytes]
    address: str = "127.0.0.1"

    @property
    def netloc(self) -> str:
        """``root@address[:port]`` as a URI names this server (no port when it is 22)."""
        return f"root@{self.address}" + ("" if self.port == 22 else f":{self.port}")

    @property
    def uri(self) -> str:
        """A libvirt URI reaching this server's machine (its libvirtd) as root."""
        return (
            f"qemu+ssh://{self.netloc}/system"
            f"?keyfile={self.client_key}&known_hosts={self.known_hosts}"
        )

    @classmethod
    def start(
        cls,
        workdir: Path | None = None,
        *,
        timeout: float = 10.0,
        address: str = "127.0.0.1",
        port: int | None = None,
        launcher: Sequence[str] = (),
    ) -> PrivateSshd:
        """Generate keys and config in ``workdir`` and start ``sshd -D`` there, listening on
        ``address:port`` (a free port unless given). ``launcher`` prefixes the command: the
        two-host rig runs its second host's sshd through ``nsenter`` into that host's
        namespaces.

        Raises SshdUnavailableError (never skips) when sshd is missing, we are not root,
        or it does not accept connections within ``timeout`` seconds.
        """
        if os.geteuid() != 0:
            raise SshdUnavailableError("the sshd test server must run as root (sudo pytest ...)")
        sshd = _find("sshd")
        workdir = Path(workdir or tempfile.mkdtemp(prefix="vigo-sshd-"))
        workdir.mkdir(parents=True, exist_ok=True)
        host_key, client_key = workdir / "host_ed25519", workdir / "client_ed25519"
        for key in (host_key, client_key):
            if not key.exists():
                _keygen(key)
        authorized = workdir / "authorized_keys"
        authorized.write_text(client_key.with_suffix(".pub").read_text())
        port = port or _free_port(address)
        known_hosts = workdir / "known_hosts"
        host_pub = host_key.with_suffix(".pub").read_text().split()
        known_hosts.write_text(f"{host_pattern(address, port)} {host_pub[0]} {host_pub[1]}\n")
        config = workdir / "sshd_config"
        log = workdir / "sshd.log"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    f"ListenAddress {address}",
                    f"HostKey {host_key}",
                    f"PidFile {workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # the work dir lives in /tmp; its modes are not what sshd wants for ~/.ssh
                    "StrictModes no",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        check = subprocess.run(
            [sshd, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30
        )
        if check.returncode != 0:
            raise SshdUnavailableError(f"sshd rejected its test config: {check.stderr.strip()}")
        process = subprocess.Popen(
            [*launcher, sshd, "-D", "-e", "-f", str(config), "-E", str(log)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        server = cls(workdir, port, host_key, client_key, known_hosts, log, process, address)
        server._wait_ready(timeout)
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdUnavailableError(
                    f"sshd exited with {self.process.returncode}: {self.log_text()}"
                )
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SshdUnavailableError(f"sshd did not answer on port {self.port}: {self.log_text()}")

    def log_text(self) -> str:
        """sshd's log so far (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def accepted_connections(self) -> int:
        """SSH connections this server has authenticated so far (from its log)."""
        return self.log_text().count("Accepted publickey")

    def kill_connection_from(self, client_port: int) -> list[int]:
        """SIGKILL the sshd processes serving the client connected from ``client_port``.

        Finds the server side of that TCP connection in /proc/net/tcp and every descendant
        of this sshd holding the socket (the privsep monitor and the user's session), so
        only that one connection drops, as when a host reboots or a firewall cuts it.
        """
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError), open(table) as lines:
                for line in list(lines)[1:]:
                    fields = line.split()
                    local_port = int(fields[1].rsplit(":", 1)[1], 16)
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if local_port == self.port and remote_port == client_port:
                        inodes.add(f"socket:[{fields[9]}]")
        killed = []
        for pid in self.descendants():
            with contextlib.suppress(OSError):
                fds = os.listdir(f"/proc/{pid}/fd")
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        return killed

    def descendants(self) -> list[int]:
        """Every process this sshd spawned (listener's children, sessions, their commands)."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                    # the command name may contain spaces; ppid is the 2nd field after ")"
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        found, frontier = [], [self.process.pid]
        while frontier:
            children = [pid for pid, ppid in parents.items() if ppid in frontier]
            found += children
            frontier = children
        return found

    def stop(self) -> None:
        """Stop the listener and every session it spawned (one process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextlib.contextmanager
def trusted_by_ssh_binary(sshd: PrivateSshd) -> Iterator[None]:
    """Add the test sshd's key to the invoking user's real known_hosts, and take it out after.

    ssh resolves ``~`` from the passwd entry, so there is no way to point libvirt's ssh at a
    private file; only our one line is added and removed.
    """
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    known = home / ".ssh" / "known_hosts"
    known.parent.mkdir(mode=0o700, exist_ok=True)
    line = sshd.known_hosts.read_text().strip() + "\n"
    with known.open("a") as out:
        out.write(line)
    try:
        yield
    finally:
        kept = [entry for entry in known.read_text().splitlines(True) if entry != line]
        known.write_text("".join(kept))


def main() -> None:
    server = PrivateSshd.start(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"VIGO_SSHD_PORT={server.port}")
    print(f"VIGO_SSHD_KEY={server.client_key}")
    print(f"VIGO_SSHD_KNOWN_HOSTS={server.known_hosts}")
    print(f"VIGO_SSHD_URI={server.uri}", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
