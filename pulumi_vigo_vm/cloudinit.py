"""The NoCloud seed: meta-data and the ISO 9660 image holding it, built in-process.

cloud-init's NoCloud datasource looks for a filesystem labelled ``cidata`` carrying
``user-data`` and ``meta-data``. We build it with pycdlib (no mkisofs on the host), with
Joliet and Rock Ridge so the lower-case, dash-bearing names survive. Pure: returns bytes.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pycdlib

from .console import READY_MARKER_PREFIX

__all__ = [
    "MAX_SEED_BYTES",
    "SEED_VOLUME_ID",
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


def instance_id(vm_name: str, seed_hash: str) -> str:
    """A new instance-id for every user-data, so cloud-init treats an edit as a new instance."""
    return f"{vm_name}-{seed_hash}"


def meta_data(vm_name: str, seed_hash: str) -> str:
    """NoCloud meta-data: instance-id and local-hostname (the VM name).

    Written as JSON, which is also YAML: every value stays a quoted string, so a VM named
    ``yes`` or ``0123`` is not read back by cloud-init as a boolean or a number.
    """
    fields = {"instance-id": instance_id(vm_name, seed_hash), "local-hostname": vm_name}
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


def vendor_data(vm_name: str, seed_hash: str) -> str:
    """NoCloud vendor-data: cloud-init's closing line becomes our readiness marker naming this
    instance, so a watcher of the serial console knows this boot of this VM has finished
    (:func:`pulumi_vigo_vm.console.ready_marker`). User-data that sets its own
    ``final_message`` wins over vendor-data; readiness is then told from cloud-init's default
    line or systemd's "Finished cloud-final.service" instead (see the README)."""
    marker = f"{READY_MARKER_PREFIX}{instance_id(vm_name, seed_hash)}"
    return "#cloud-config\n" + json.dumps({"final_message": f"{CLOSING_LINE} {marker}"}) + "\n"


def build_seed_iso(vm_name: str, user_data: str, seed_hash: str) -> bytes:
    """The seed ISO's bytes: ``user-data`` as given, ``meta-data`` from :func:`meta_data`,
    ``vendor-data`` from :func:`vendor_data`."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=SEED_VOLUME_ID)
    try:
        _add_file(iso, "user-data", user_data.encode())
        _add_file(iso, "meta-data", meta_data(vm_name, seed_hash).encode())
        _add_file(iso, "vendor-data", vendor_data(vm_name, seed_hash).encode())
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
    every failure to parse means "not one of ours", never an exception.
    """
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(data))
    except Exception:  # pycdlib raises several unrelated types for malformed images
        return None
    try:
        volume_id = iso.pvd.volume_identifier.decode("ascii", "replace").rstrip(" \x00")
        out = io.BytesIO()
        try:
            iso.get_file_from_iso_fp(out, rr_path="/meta-data")
            fields = json.loads(out.getvalue()[:MAX_META_DATA_BYTES])
        except Exception:
            return SeedIdentity(volume_id, None)
        found = fields.get("instance-id") if isinstance(fields, dict) else None
        return SeedIdentity(volume_id, found if isinstance(found, str) else None)
    finally:
        iso.close()
