"""Every error this package raises, in one tree.

::

    VigoError                      base: catch this to catch everything of ours
    ├── InputError                 an input is invalid; carries one (property, reason) per fault
    ├── HostError                  the hypervisor host could not do what was asked
    │   ├── HostUnreachableError   libvirt or SSH could not be reached (or auth/host key refused)
    │   ├── CommandError           a host command (qemu-img, ...) exited non-zero
    │   ├── CommandTimeoutError    a host command ran past its timeout and was killed
    │   ├── NotRegularFileError    a file to read is a FIFO, device, directory...: never opened
    │   └── LibvirtCallError       a libvirt call failed; keeps libvirt's error code
    ├── ImageError                 a base or overlay image is unusable (missing, chained, data file)
    ├── NotOwnedError              a same-named domain or file exists that this package did not make
    ├── InUseError                 a file is referenced by domains on the host; names them
    ├── MoveError                  a VM cannot move to another host, or its move failed (it stays)
    ├── SnapshotError              a snapshot cannot be taken, or snapshots block a VM's undefine
    └── CuratorError               an artifact reference could not be parsed, resolved or fetched
        └── CuratorUnreachableError  the curator (registry or layout directory) cannot be reached

Lower-level errors (libvirt, subprocess, paramiko) are translated once, where they are
raised, with ``raise ... from exc``. Messages name the input or object and the fix; they
never contain cloud-init user-data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CommandError",
    "CommandTimeoutError",
    "CuratorError",
    "CuratorUnreachableError",
    "HostError",
    "HostUnreachableError",
    "ImageError",
    "InUseError",
    "InputError",
    "InputFault",
    "LibvirtCallError",
    "MoveError",
    "NotOwnedError",
    "NotRegularFileError",
    "SnapshotError",
    "VigoError",
]


class VigoError(Exception):
    """Base of every error raised by pulumi_vigo_vm."""


@dataclass(frozen=True)
class InputFault:
    """One invalid input: the property name as the user wrote it, and why it is refused."""

    property: str
    reason: str


class InputError(VigoError):
    """One or more inputs are invalid. Raised before anything on a host is touched."""

    def __init__(self, faults: Sequence[InputFault]) -> None:
        self.faults = tuple(faults)
        super().__init__("; ".join(f"{f.property}: {f.reason}" for f in self.faults))


class HostError(VigoError):
    """The hypervisor host could not do what was asked."""


class HostUnreachableError(HostError):
    """libvirt or SSH on the host could not be reached, or refused us."""


class CommandError(HostError):
    """A command on the host exited non-zero. Keeps the argv, exit status and stderr."""

    def __init__(self, host: str, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.host = host
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(
            f"{' '.join(self.argv)} failed on {host} (exit {returncode}): {stderr.strip()}"
        )


class CommandTimeoutError(HostError):
    """A command on the host ran longer than its timeout and was killed.

    Not a CommandError: callers read a CommandError's exit status and stderr as what the
    command said; a killed command said nothing, and its timeout must not be mistaken for,
    or hidden behind, a complaint about the input.
    """

    def __init__(self, host: str, argv: Sequence[str], timeout: float) -> None:
        self.host = host
        self.argv = tuple(argv)
        self.timeout = timeout
        super().__init__(
            f"{' '.join(self.argv)} on {host} did not finish within {timeout:g}s and was "
            f"killed; the host may be overloaded or its storage hung"
        )


class NotRegularFileError(HostError):
    """A file to be read is not a regular file (nor a block device where one is meant): a
    FIFO would block the read for ever, a character device never ends, a directory or
    socket has no bytes. ``kind`` says what it is. Raised before its bytes are read."""

    def __init__(self, host: str, path: str, kind: str, wanted: str) -> None:
        self.host = host
        self.path = path
        self.kind = kind
        super().__init__(
            f"{path} on {host} is a {kind}, not a {wanted}; it is never read (a FIFO would "
            f"block for ever, a device never ends): give the path of a {wanted}"
        )


class LibvirtCallError(HostError):
    """A libvirt call failed. ``code`` is libvirt's error code (VIR_ERR_*), or None."""

    def __init__(self, message: str, code: int | None) -> None:
        self.code = code
        super().__init__(message)


class DefineConflictError(LibvirtCallError):
    """libvirt refused a define: a domain of that name exists with another UUID, or of that
    UUID with another name (``VIR_ERR_OPERATION_FAILED`` from ``defineXML``)."""


class ImageError(VigoError):
    """A base or overlay image cannot be used as asked (missing, chained, external data)."""


class NotOwnedError(VigoError):
    """A domain or file of the same name exists and was not made by this package."""


class InUseError(VigoError):
    """A file cannot be removed or replaced: domains on the host reference it. ``domains``
    are their names (sorted); the message names them, the file and the fix."""

    def __init__(self, path: str, domains: Sequence[str], fix: str) -> None:
        self.path = path
        self.domains = tuple(domains)
        super().__init__(f"{path} is in use by {', '.join(self.domains)}; {fix}")


class MoveError(VigoError):
    """A VM cannot be moved to another host as asked (``on_host_change="migrate"``), or its
    move failed: it stays where it was, and nothing of it is left on the other host."""


class SnapshotError(VigoError):
    """A VigoSnapshot cannot be taken as asked (a raw writable disk, the NVRAM of a running
    EFI guest), or snapshots would be lost by an act (a VM's destroy or replace, a
    VigoDisk's delete or growth). Raised before anything is changed; names them and the fix."""


class CuratorError(VigoError):
    """An artifact reference could not be parsed, resolved, fetched or verified."""


class CuratorUnreachableError(CuratorError):
    """The curator cannot be reached right now; what was resolved before may still hold."""
