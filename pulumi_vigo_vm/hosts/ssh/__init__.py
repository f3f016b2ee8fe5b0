"""SshHost: a hypervisor reached over SSH. Commands run over exec channels, files over SFTP.

Why it is shaped this way:

* **One transport per target for the whole process.** The engine calls the provider from
  up to ten threads at once; an SSH handshake costs tens to hundreds of milliseconds and
  sshd rate-limits unauthenticated connections (``MaxStartups``). So
  :func:`ssh_host_for_uri` hands out one cached :class:`SshHost` per target, which opens a
  single paramiko transport lazily and reopens it when it is found dead. A target is the
  account, the route and the trust inputs (keys, known_hosts files): URIs that differ in
  those are verified and authenticated separately.
* **SFTP wherever it answers the question.** An exec channel starts a login shell on the
  host (~100 ms); an SFTP request on an open channel is one round trip. ``stat``,
  ``listdir``, ``makedirs``, ``remove``, ``rename``, reads and atomic writes are all SFTP.
* **Shared, locked SFTP channels.** paramiko's ``SFTPClient`` must not be used by two
  threads at once (a thread waiting for its reply may consume another's). A few channels
  are opened on demand and each *request* holds its channel's lock; nothing holds a lock
  across a ``yield`` or a caller's ``with`` block, so a thread copying a file from one path
  of a host to another (a reader and a writer at once) cannot deadlock others.
* **Session budget.** sshd allows ``MaxSessions`` (default 10) channels per connection;
  SFTP channels, concurrently running commands and the libvirt stream stay within it.
* **libvirt rides on the same transport** (:mod:`..libvirt_tunnel`), so a run opens one SSH
  connection per host, verified by the same known_hosts rules.
* **Host keys are verified, never learnt.** Keys come from ``known_hosts`` files (the URI's
  ``known_hosts=`` parameter, else the user's and the system's); an unknown key is refused
  with the fingerprint and the fix. Trust-on-first-use would make a first deploy against
  a spoofed host silently succeed. ``@revoked`` lines are honoured; ``@cert-authority``
  lines are not usable (paramiko cannot verify host certificates) and only explain why a
  host known solely through them is refused.
* **Reconnect once.** A call that finds the transport dead reconnects and retries once if
  repeating it is harmless. Commands are retried only when they cannot have started.

One module per job, each depending only on those above it:

* :mod:`.target`: URI + ``~/.ssh/config`` -> who, where, which keys, known_hosts, proxy.
* :mod:`.known_hosts`: the known_hosts lines that concern one host (@revoked, @cert-authority).
* :mod:`.connect`: one authenticated connection under the host-key policy; the count.
* :mod:`.transport`: the lifecycle of a host's transport (reconnect, ProxyJump/ProxyCommand,
  the session budget).
* :mod:`.sftp_pool`: the locked SFTP channels, error translation, retry once.
* :mod:`._paramiko`: the two SFTP requests that need paramiko's private API.
* :mod:`.atomic`: atomic writes over SFTP.  :mod:`.commands`: commands with a deadline.
* :mod:`.host`: :class:`SshHost`, the Host operations.  :mod:`.registry`: one per target.
"""

from __future__ import annotations

from .connect import CONNECT_TIMEOUT, KEEPALIVE_INTERVAL, opened_ssh_connection_count
from .destination import DEFAULT_PORT, MAX_JUMP_HOPS, SshTarget, resolve_ssh_target
from .host import SshHost
from .registry import close_all_ssh_hosts, ssh_host_for_uri
from .sftp_pool import CHANNEL_TIMEOUT
from .transport import EXEC_CHANNELS, LIBVIRT_STREAMS, SESSION_WAIT, SFTP_CHANNELS

__all__ = [
    "CHANNEL_TIMEOUT",
    "CONNECT_TIMEOUT",
    "DEFAULT_PORT",
    "EXEC_CHANNELS",
    "KEEPALIVE_INTERVAL",
    "LIBVIRT_STREAMS",
    "MAX_JUMP_HOPS",
    "SESSION_WAIT",
    "SFTP_CHANNELS",
    "SshHost",
    "SshTarget",
    "close_all_ssh_hosts",
    "opened_ssh_connection_count",
    "resolve_ssh_target",
    "ssh_host_for_uri",
]
