"""The NoCloud seed: its documents and the ISO 9660 image holding them, built in-process.

cloud-init's NoCloud datasource looks for a filesystem labelled ``cidata`` carrying
``user-data`` and ``meta-data`` (and optionally ``vendor-data`` and ``network-config``). We
build it with pycdlib (no mkisofs on the host), with Joliet and Rock Ridge so the
lower-case, dash-bearing names survive. Pure: returns bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import TYPE_CHECKING, Any

from ..common.numbers import as_wire
from .guest.console import READY_MARKER_PREFIX

if TYPE_CHECKING:
    import pycdlib

__all__ = [
    "MAX_SEED_BYTES",
    "SEED_VOLUME_ID",
    "SeedContent",
    "SeedIdentity",
    "build_seed_iso",
    "instance_id",
    "meta_data",
    "read_seed_identity",
    "vendor_data",
]

SEED_VOLUME_ID = "cidata"
MAX_SEED_BYTES = 64 * 1024 * 1024
"""The most of a file at a seed path read to tell whether it is ours (user-data is capped at
16 MiB; an ISO of that is a little larger)."""
MAX_META_DATA_BYTES = 64 * 1024
"""The most extra meta-data a VM may carry (JSON); a seed's meta-data file is read back up to
this and a little more."""
_META_DATA_READ_LIMIT = MAX_META_DATA_BYTES + 4096


def instance_id(vm_name: str, seed_hash: str) -> str:
    """A new instance-id for every user-data, so cloud-init treats an edit as a new instance."""
    return f"{vm_name}-{seed_hash}"


@dataclass(frozen=True)
class SeedContent:
    """What a VM's seed carries besides its identity. Its hash names the seed file and its
    instance-id, so any change to any part is a new instance to cloud-init."""

    user_data: str | None = field(default=None, repr=False)
    vendor_data: str | None = field(default=None, repr=False)
    network_config: str | None = None
    meta_data: Mapping[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not (self.user_data or self.vendor_data or self.network_config or self.meta_data)

    @property
    def hash(self) -> str | None:
        """``sha256(user_data)[:8]`` for user-data alone (exactly the previous release's, so
        an upgrade neither renames the seed nor re-runs cloud-init); with any other part, the
        first 8 hex digits of the sha256 of all four as canonical JSON. None when empty."""
        if self.empty:
            return None
        if not (self.vendor_data or self.network_config or self.meta_data):
            return hashlib.sha256((self.user_data or "").encode()).hexdigest()[:8]
        parts = {
            "user-data": self.user_data or "",
            "vendor-data": self.vendor_data or "",
            "network-config": self.network_config or "",
            # Numbers as the wire has them (8080.0), as the previous release hashed them:
            # restoring the user's 8080 in the seed renames no seed and replaces no VM.
            "meta-data": as_wire(dict(self.meta_data or {})),
        }
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def meta_data(vm_name: str, seed_hash: str, extra: Mapping[str, Any] | None = None) -> str:
    """NoCloud meta-data: the user's extra keys, then instance-id and local-hostname (the
    VM name), which are always ours.

    Written as JSON, which is also YAML: every value stays a quoted string, so a VM named
    ``yes`` or ``0123`` is not read back by cloud-init as a boolean or a number.
    """
    fields = {
        **(extra or {}),
        "instance-id": instance_id(vm_name, seed_hash),
        "local-hostname": vm_name,
    }
    return json.dumps(fields, indent=1) + "\n"


def _add_file(iso: pycdlib.PyCdlib, name: str, data: bytes) -> None:
    iso.add_fp(
        io.BytesIO(data),
        len(data),
        f"/{name.upper().replace('-', '_')}.;1",
        rr_name=name,
        joliet_path=f"/{name}",
    )


CLOSING_LINE = (
    "Cloud-init v. ${version} finished at ${timestamp}. Datasource ${datasource}.  "
    "Up ${uptime} seconds."
)
"""cloud-init's own closing line (``cc_final_message``'s default, in its basic template
syntax), kept in front of our marker so the console still says which datasource ran."""


def vendor_data(vm_name: str, seed_hash: str, theirs: str | None = None) -> str:
    """NoCloud vendor-data: cloud-init's closing line becomes our readiness marker naming this
    instance, so a watcher of the serial console knows this boot of this VM has finished
    (:func:`pulumi_vigo_vm.vm.guest.console.ready_marker`). User-data that sets its own
    ``final_message`` wins over vendor-data; readiness is then told from cloud-init's default
    line or systemd's "Finished cloud-final.service" instead (see docs/addresses.md). The user's
    own vendor-data (``theirs``) joins ours as a second part."""
    marker = f"{READY_MARKER_PREFIX}{instance_id(vm_name, seed_hash)}"
    ours = "#cloud-config\n" + json.dumps({"final_message": f"{CLOSING_LINE} {marker}"}) + "\n"
    if not theirs:
        return ours
    # Both as one MIME multipart document, ours first: cloud-init merges the parts in order,
    # so the user's vendor-data keeps the last word, as user-data does.
    # A text/plain part is typed by cloud-init from its first line (#cloud-config, #!, ...).
    document = MIMEMultipart()
    document.attach(MIMEText(ours, "cloud-config", "utf-8"))
    document.attach(MIMEText(theirs, "plain", "utf-8"))
    return document.as_string()


USER_DATA_WITHOUT_USER_DATA = "#cloud-config\n{}\n"
"""NoCloud wants a user-data file: this is the one a seed without user-data carries."""


def build_seed_iso(vm_name: str, content: SeedContent, seed_hash: str) -> bytes:
    """The seed ISO's bytes: ``user-data`` as given, ``meta-data`` from :func:`meta_data`,
    ``vendor-data`` from :func:`vendor_data`, ``network-config`` when given."""
    import pycdlib  # only when a seed is built: the checks and the policy pack load none

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=SEED_VOLUME_ID)
    try:
        user_data = content.user_data
        if user_data is None:
            user_data = USER_DATA_WITHOUT_USER_DATA
        vendor = vendor_data(vm_name, seed_hash, content.vendor_data)
        _add_file(iso, "user-data", user_data.encode())
        _add_file(iso, "meta-data", meta_data(vm_name, seed_hash, content.meta_data).encode())
        _add_file(iso, "vendor-data", vendor.encode())
        if content.network_config:
            _add_file(iso, "network-config", content.network_config.encode())
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()


@dataclass(frozen=True)
class SeedIdentity:
    """What tells a seed ISO apart: its volume label and the ``instance-id`` in its meta-data."""

    volume_id: str
    instance_id: str | None


def read_seed_identity(data: bytes) -> SeedIdentity | None:
    """The identity of an ISO's bytes, or None when they are not an ISO 9660 image at all.

    The file is untrusted (anyone with write access to images_dir may have put it there):
    every failure to parse means "not one of ours", never an exception. Only what the
    identity needs is read, straight from the bytes: the primary volume descriptor (label,
    size: a truncated image is none), the root directory's records and the ``meta-data``
    file they point at. (pycdlib parsed the whole image, Joliet and Rock Ridge included,
    for each seed a delete proves ours: the most of a delete's own CPU, issue 24.)"""
    pvd = data[_PVD_OFFSET : _PVD_OFFSET + _SECTOR]
    if len(pvd) < _SECTOR or pvd[:7] != b"\x01CD001\x01":
        return None
    if _u16(pvd, 128) != _SECTOR or _u32(pvd, 80) * _SECTOR > len(data):
        return None
    root = _directory_record(pvd, 156)
    if root is None:
        return None
    volume_id = pvd[40:72].decode("ascii", "replace").rstrip(" \x00")
    extent, size, _name = root
    meta = _find(data, extent, size, _META_DATA_NAMES)
    if meta is None:
        return SeedIdentity(volume_id, None)
    start, length = meta[0] * _SECTOR, meta[1]
    if start + length > len(data):
        return None
    try:
        fields = json.loads(data[start : start + min(length, _META_DATA_READ_LIMIT)])
    except ValueError:  # not JSON (UnicodeDecodeError is one too)
        return SeedIdentity(volume_id, None)
    found = fields.get("instance-id") if isinstance(fields, dict) else None
    return SeedIdentity(volume_id, found if isinstance(found, str) else None)


_SECTOR = 2048
_PVD_OFFSET = 16 * _SECTOR
_META_DATA_NAMES = frozenset({b"META_DATA.;1", b"META_DATA.", b"META_DATA"})
"""The ISO 9660 names of ``meta-data`` (:func:`_add_file` writes ``META_DATA.;1``)."""


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little")


def _directory_record(data: bytes, at: int) -> tuple[int, int, bytes] | None:
    """(extent, data length, name) of the directory record at ``at``; None when it does
    not fit in ``data`` (ECMA-119 9.1: both-endian fields, little-endian half first)."""
    length = data[at] if at < len(data) else 0
    if length < 34 or at + length > len(data) or 33 + data[at + 32] > length:
        return None
    name = bytes(data[at + 33 : at + 33 + data[at + 32]])
    return _u32(data, at + 2), _u32(data, at + 10), name


def _find(data: bytes, extent: int, size: int, names: frozenset[bytes]) -> tuple[int, int] | None:
    """(extent, length) of the file named one of ``names`` in the directory at ``extent``."""
    start = extent * _SECTOR
    directory = data[start : start + min(size, len(data) - start)] if start < len(data) else b""
    at = 0
    while at < len(directory):
        if directory[at] == 0:  # records never span sectors: the rest of this one is padding
            at = (at // _SECTOR + 1) * _SECTOR
            continue
        record = _directory_record(directory, at)
        if record is None:
            return None
        if record[2].upper() in names:
            return record[0], record[1]
        at += directory[at]
    return None
