"""The SFTP requests paramiko has no public call for, made through its private API.

Everything else in this package uses paramiko's public API; these three cannot:

* **Create a file with its permissions in the OPEN request.** ``SFTPClient.open`` creates a
  file with the server's default mode (0666 & umask) and only then can it be chmodded,
  which would leave a window in which cloud-init secrets are world-readable. The OPEN
  request itself can carry the mode (and O_EXCL), as LocalHost's ``os.open`` does.
* **fsync a file** (OpenSSH's ``fsync@openssh.com`` extension), so that the rename which
  publishes it never exposes a file whose bytes are still only in the page cache of a host
  that then crashes.

* **Close a file read to its end without waiting for the reply.** The handle is the
  server's to free; nothing that follows depends on it (a failed close was ignored before
  too), and waiting held the channel, which every RPC in flight shares, for one more round
  trip per file read. paramiko closes a file it collects exactly so (``_close(async_=True)``),
  and a later request on the channel consumes the reply.

The first two go through ``SFTPClient._request``, paramiko's private request/response call (the
same one its public methods use), and build an ``SFTPFile`` from a raw handle. Keeping them
here, and only here, means a paramiko upgrade that changes that API breaks one small
module, and its tests (tests/ssh) say so at once.
"""

from __future__ import annotations

import contextlib

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_HANDLE, CMD_OPEN
from paramiko.sftp import SFTP_FLAG_CREATE as _CREATE
from paramiko.sftp import SFTP_FLAG_EXCL as _EXCL
from paramiko.sftp import SFTP_FLAG_TRUNC as _TRUNC
from paramiko.sftp import SFTP_FLAG_WRITE as _WRITE
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_file import SFTPFile

__all__ = ["close_without_waiting", "create_private", "fsync"]


def create_private(sftp: paramiko.SFTPClient, path: str) -> SFTPFile:
    """Create ``path`` for writing, which must not exist, readable only by its owner (0600)
    from the start: an SFTP OPEN with CREATE|EXCL and the mode in the request."""
    attrs = SFTPAttributes()
    attrs.st_mode = 0o600
    kind, msg = sftp._request(CMD_OPEN, path, _WRITE | _CREATE | _EXCL | _TRUNC, attrs)
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError(f"expected a handle opening {path}")
    return SFTPFile(sftp, msg.get_binary(), "wb", -1)


def fsync(remote: SFTPFile) -> bool:
    """Ask the server to fsync ``remote`` (flushed by the caller). False when the server does
    not offer ``fsync@openssh.com`` (or refuses it): durability is then best effort."""
    with contextlib.suppress(OSError):
        remote.sftp._request(CMD_EXTENDED, "fsync@openssh.com", remote.handle)
        return True
    return False


def close_without_waiting(remote: SFTPFile) -> None:
    """Send CLOSE for ``remote`` and return: its reply is read by the channel's next request."""
    remote._close(async_=True)
