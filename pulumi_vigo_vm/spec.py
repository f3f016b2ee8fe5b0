"""VmSpec: the validated, normalised desired state of one VM, and every input error.

The engine hands the provider loosely typed property bags: numbers arrive as floats in
every method (even after ``check`` returned ints), integers may be numeric strings, and
during preview any value may be unknown. This module turns such a bag into a
:class:`VmSpec` or into one :class:`~pulumi_vigo_vm.errors.InputFault` per bad input, so
``pulumi preview`` reports all of them at once, before any host is touched. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import InputError, InputFault

__all__ = [
    "DEFAULT_ARTIFACTS_DIR",
    "DEFAULT_DOMAIN_TYPE",
    "DEFAULT_IMAGES_DIR",
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_URI",
    "BaseSource",
    "ProviderDefaults",
    "RunState",
    "VmSpec",
    "check_inputs",
    "parse_spec",
]

DEFAULT_URI = "qemu:///system"
DEFAULT_DOMAIN_TYPE = "kvm"
DEFAULT_IMAGES_DIR = "/var/lib/libvirt/images"
DEFAULT_SHUTDOWN_TIMEOUT_S = 120
DEFAULT_ARTIFACTS_DIR = "/var/lib/vigo/artifacts"

MAX_MEMORY_MIB = 16 * 1024 * 1024  # 16 TiB: beyond any host libvirt runs on
MAX_VCPU = 4096  # libvirt's own ceiling for x86 guests
MAX_DISK_SIZE_GIB = 64 * 1024  # 64 TiB
MAX_SHUTDOWN_TIMEOUT_S = 24 * 3600
MAX_USER_DATA_BYTES = 16 * 1024 * 1024  # what one NoCloud seed ISO reasonably carries

_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_BRIDGE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_POOL_OBJECT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters XML 1.0 cannot carry at all (beyond the control characters): text inputs end up
# in domain XML, so they are refused at check time, before any file is written.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
MAX_CLAIM_LENGTH = 2048
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]+")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")
_XML_META = re.compile(r"[<>&\"']")
_URI_SCHEMES = ("qemu", "qemu+ssh", "qemu+unix")
_URI_PATHS = ("/system", "/session")


class RunState(StrEnum):
    """The desired run state of a VM."""

    RUNNING = "running"
    STOPPED = "stopped"
    DEFINED = "defined"
    ABSENT = "absent"


@dataclass(frozen=True)
class ProviderDefaults:
    """Values taken from stack config (``vigo:*``) when an input is omitted."""

    uri: str = DEFAULT_URI
    domain_type: str = DEFAULT_DOMAIN_TYPE
    images_dir: str = DEFAULT_IMAGES_DIR
    curator: str | None = None
    puddle: str | None = None
    artifacts_dir: str = DEFAULT_ARTIFACTS_DIR

    @classmethod
    def from_config(cls, get: Callable[[str], str | None]) -> ProviderDefaults:
        """Build from a config getter taking un-namespaced keys (``uri``, ``domainType``, ...)."""
        return cls(
            uri=get("uri") or DEFAULT_URI,
            domain_type=get("domainType") or DEFAULT_DOMAIN_TYPE,
            images_dir=get("imagesDir") or DEFAULT_IMAGES_DIR,
            curator=get("curator") or None,
            puddle=get("puddle") or None,
            artifacts_dir=get("artifactsDir") or DEFAULT_ARTIFACTS_DIR,
        )


@dataclass(frozen=True)
class BaseSource:
    """Where the base disk comes from: a host file, a libvirt pool volume, or an artifact."""

    kind: str  # "file" | "pool" | "artifact"
    value: str  # the input as given (normalised)

    @property
    def input_name(self) -> str:
        """The input that named this base, for messages and diff results."""
        return "artifact" if self.kind == "artifact" else "disk_path"

    @property
    def pool_volume(self) -> tuple[str, str]:
        """``(pool, volume)`` of a pool base."""
        pool, _, volume = self.value.partition(":")
        return pool, volume


@dataclass(frozen=True)
class VmSpec:
    """One VM as the user declared it, validated and with defaults applied."""

    vm_name: str
    memory_mib: int
    vcpu: int
    base: BaseSource
    state: RunState = RunState.RUNNING
    disk_size_gib: int | None = None
    network_bridge: str | None = None
    cloud_init_user_data: str | None = field(default=None, repr=False)
    uri: str = DEFAULT_URI
    domain_type: str = DEFAULT_DOMAIN_TYPE
    images_dir: str = DEFAULT_IMAGES_DIR
    shutdown_timeout_s: int = DEFAULT_SHUTDOWN_TIMEOUT_S
    claim: str | None = None
    """The owner named in the domain's marker: the resource's URN, computed by VigoVm.
    None only in state written by the previous release."""

    @property
    def overlay_path(self) -> str:
        """``<images_dir>/<vm_name>.qcow2``: the VM's own writable disk."""
        return posixpath.join(self.images_dir, f"{self.vm_name}.qcow2")

    @property
    def seed_hash(self) -> str | None:
        """``sha256(user_data)[:8]``, or None without user-data."""
        if not self.cloud_init_user_data:
            return None
        return hashlib.sha256(self.cloud_init_user_data.encode()).hexdigest()[:8]

    @property
    def seed_iso_prefix(self) -> str:
        """The file-name prefix every seed ISO of this VM shares, whatever its hash."""
        return f"{self.vm_name}-seed-"

    @property
    def seed_iso_path(self) -> str | None:
        """``<images_dir>/<vm_name>-seed-<hash>.iso``, or None without user-data."""
        if self.seed_hash is None:
            return None
        return posixpath.join(self.images_dir, f"{self.seed_iso_prefix}{self.seed_hash}.iso")

    @property
    def disk_size_bytes(self) -> int | None:
        """The overlay's requested virtual size, or None for the base image's size."""
        return None if self.disk_size_gib is None else self.disk_size_gib * 1024**3

    def to_inputs(self) -> dict[str, Any]:
        """The normalised inputs, as recorded in state and returned in outputs."""
        return {
            "vm_name": self.vm_name,
            "memory_mib": self.memory_mib,
            "vcpu": self.vcpu,
            "disk_path": self.base.value if self.base.kind != "artifact" else None,
            "artifact": self.base.value if self.base.kind == "artifact" else None,
            "state": self.state.value,
            "disk_size_gib": self.disk_size_gib,
            "network_bridge": self.network_bridge,
            "cloud_init_user_data": self.cloud_init_user_data,
            "uri": self.uri,
            "domain_type": self.domain_type,
            "images_dir": self.images_dir,
            "shutdown_timeout_s": self.shutdown_timeout_s,
            "claim": self.claim,
        }


# --- field validators: each returns the normalised value or raises ValueError(reason) ---


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string ({what}), got {type(value).__name__}")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if _NOT_XML.search(value):
        raise ValueError("must not contain characters XML cannot hold (U+FFFE, U+FFFF, surrogates)")
    return value


def _integer(value: Any, low: int, high: int, unit: str = "") -> int:
    """Accept ints, integral floats (the engine's numbers) and numeric strings."""
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {value!r}")
    number: float | int
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.0*)?\s*", value):
        number = float(value) if "." in value else int(value)
    else:
        raise ValueError(f"must be a whole number{unit}, got {_shown(value)}")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(f"must be a whole number{unit}, got {_shown(value)}")
        number = int(number)
    if number < low:
        raise ValueError(f"must be at least {low}{unit}, got {number}")
    if number > high:
        raise ValueError(f"must be at most {high}{unit}, got {number}")
    return number


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _vm_name(value: Any) -> str:
    name = _text(value, "the libvirt domain name")
    if not _VM_NAME.fullmatch(name):
        raise ValueError(
            f"{_shown(name)} is not a valid VM name: use 1-63 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit (it also names the overlay and seed files)"
        )
    return name


def _absolute_path(value: Any, what: str) -> str:
    path = _text(value, what)
    if not path.startswith("/"):
        raise ValueError(f"must be an absolute path, got {_shown(path)}")
    if ".." in path.split("/"):
        raise ValueError(f"must not contain '..' components, got {_shown(path)}")
    if _XML_META.search(path):
        raise ValueError(f"must not contain any of < > & \" ', got {_shown(path)}")
    return "/" + posixpath.normpath(path).lstrip("/")


def _disk_path(value: Any) -> BaseSource:
    text = _text(value, "an absolute path to a base image, or pool:volume")
    if text.startswith("/"):
        return BaseSource("file", _absolute_path(text, "a base image path"))
    pool, sep, volume = text.partition(":")
    if sep and _POOL_OBJECT.fullmatch(pool) and _POOL_OBJECT.fullmatch(volume):
        return BaseSource("pool", text)
    raise ValueError(
        f"{_shown(text)} is neither an absolute file path nor pool:volume "
        "(e.g. /var/lib/libvirt/images/base.qcow2 or default:base.qcow2)"
    )


def _artifact(value: Any) -> BaseSource:
    text = _text(value, "a curator artifact reference")
    from .curator.reference import parse_reference  # pure; imported late to keep import light

    try:
        parse_reference(text)
    except Exception as exc:  # CuratorError carries the friendly reason
        raise ValueError(str(exc)) from exc
    return BaseSource("artifact", text)


def _state(value: Any) -> RunState:
    try:
        return RunState(value)
    except ValueError:
        choices = ", ".join(s.value for s in RunState)
        raise ValueError(f"must be one of {choices}; got {_shown(value)}") from None


def _bridge(value: Any) -> str:
    name = _text(value, "a host bridge interface name")
    if not _BRIDGE.fullmatch(name) or name in (".", ".."):
        raise ValueError(
            f"{_shown(name)} is not a Linux interface name: 1-15 characters from "
            "A-Z a-z 0-9 _ . - (no '/', ':' or spaces), e.g. br0 or virbr0"
        )
    return name


def _user_data(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(
            f"must be a string (a #cloud-config document or a script), got {type(value).__name__}"
        )
    if len(value.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"is larger than {MAX_USER_DATA_BYTES // (1024 * 1024)} MiB")
    return value


def _uri(value: Any) -> str:
    uri = _text(value, "a libvirt URI")
    parts = urlsplit(uri)
    if parts.password is not None:  # checked first: no message below may echo it
        raise ValueError(
            "holds a password, which would be stored in the stack's state in plain text; "
            "use keyfile= or ssh-agent instead"
        )
    if parts.scheme not in _URI_SCHEMES:
        raise ValueError(
            f"{_shown(uri)} is not a supported libvirt URI: use qemu:///system or "
            "qemu+ssh://[user@]host[:port]/system"
        )
    if parts.path not in _URI_PATHS:
        raise ValueError(f"{_shown(uri)}: the path must be /system or /session")
    remote = parts.scheme == "qemu+ssh"
    if remote and not parts.hostname:
        raise ValueError(f"{_shown(uri)}: qemu+ssh needs a host, e.g. qemu+ssh://root@hv1/system")
    if remote and not _HOST.fullmatch(parts.hostname or ""):
        raise ValueError(f"{_shown(uri)}: {parts.hostname!r} is not a host name or address")
    if parts.username is not None and not _USER.fullmatch(parts.username):
        raise ValueError(f"{_shown(uri)}: {parts.username!r} is not a user name")
    if not remote and parts.netloc:
        raise ValueError(f"{_shown(uri)}: a local URI has no host; use {parts.scheme}:///system")
    if re.search(r"[<>\"'\s\\]", uri):
        raise ValueError(f"{_shown(uri)}: contains characters a libvirt URI cannot hold")
    try:
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise ValueError(f"{_shown(uri)}: the port must be a number from 1 to 65535") from None
    query = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    if query.get("no_verify", "0") != "0":
        # libvirt's ssh transport would then auto-accept (and save) unknown host keys
        raise ValueError(
            f"{_shown(uri)}: no_verify is refused; SSH host keys are always verified "
            "(add the host's key to known_hosts instead)"
        )
    if query.get("proxy", "auto") not in ("auto", "native", "netcat"):
        raise ValueError(f"{_shown(uri)}: proxy must be auto, native (virt-ssh-helper) or netcat")
    return uri


def _claim(value: Any) -> str:
    claim = _text(value, "the owner VigoVm computes from its URN")
    if not claim or len(claim) > MAX_CLAIM_LENGTH or "urn:pulumi:" not in claim:
        raise ValueError(_CLAIM_REASON)
    return claim


_CLAIM_REASON = (
    "is set by VigoVm from the resource's URN: declare VMs with pulumi_vigo_vm.VigoVm "
    "(never set it yourself)"
)


def _domain_type(value: Any) -> str:
    if value not in ("kvm", "qemu"):
        raise ValueError(f"must be kvm or qemu (software emulation), got {_shown(value)}")
    return str(value)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _is_unknown(value: Any) -> bool:
    return type(value).__name__ == "Unknown"


_Validators = dict[str, Callable[[Any], Any]]
_FIELD_VALIDATORS: _Validators = {
    "vm_name": _vm_name,
    "memory_mib": lambda v: _integer(v, 1, MAX_MEMORY_MIB, " MiB"),
    "vcpu": lambda v: _integer(v, 1, MAX_VCPU),
    "state": _state,
    "disk_size_gib": lambda v: _integer(v, 1, MAX_DISK_SIZE_GIB, " GiB"),
    "network_bridge": _bridge,
    "cloud_init_user_data": _user_data,
    "uri": _uri,
    "domain_type": _domain_type,
    "images_dir": lambda v: _absolute_path(v, "a directory for overlays and seed ISOs"),
    "shutdown_timeout_s": lambda v: _integer(v, 0, MAX_SHUTDOWN_TIMEOUT_S, " seconds"),
    "disk_path": _disk_path,
    "artifact": _artifact,
    "claim": _claim,
}
_REQUIRED = ("vm_name", "memory_mib", "vcpu")


def _defaults_for(defaults: ProviderDefaults) -> dict[str, Any]:
    return {
        "state": RunState.RUNNING.value,
        "uri": defaults.uri,
        "domain_type": defaults.domain_type,
        "images_dir": defaults.images_dir,
        "shutdown_timeout_s": DEFAULT_SHUTDOWN_TIMEOUT_S,
    }


def check_inputs(
    props: Mapping[str, Any], defaults: ProviderDefaults, *, require_claim: bool = True
) -> tuple[dict[str, Any], list[InputFault]]:
    """Validate ``props`` leniently: unknown (preview) values pass through unjudged.

    Returns the normalised inputs (defaults applied) and one fault per bad input. New
    inputs must carry a ``claim``; recorded outputs of the previous release have none
    (``require_claim=False`` when parsing those).
    """
    values = {**_defaults_for(defaults), **{k: v for k, v in props.items() if _present(v)}}
    faults: list[InputFault] = []
    normalised: dict[str, Any] = {}
    for name in _REQUIRED:
        if name not in values:
            faults.append(InputFault(name, "is required"))
    if require_claim and "claim" not in values:
        faults.append(InputFault("claim", _CLAIM_REASON))
    for name, validate in _FIELD_VALIDATORS.items():
        if name not in values:
            continue
        value = values[name]
        if _is_unknown(value):
            normalised[name] = value
            continue
        try:
            checked = validate(value)
        except ValueError as exc:
            faults.append(InputFault(name, str(exc)))
            continue
        normalised[name] = checked.value if isinstance(checked, Enum) else checked
        if isinstance(checked, BaseSource):
            normalised[name] = checked.value
    has_disk, has_artifact = "disk_path" in values, "artifact" in values
    if has_disk and has_artifact and not any(f.property == "artifact" for f in faults):
        faults.append(
            InputFault("artifact", "give exactly one of disk_path and artifact, not both")
        )
    elif not has_disk and not has_artifact:
        faults.append(
            InputFault("disk_path", "a base disk is required: set disk_path (or artifact)")
        )
    faults += _overlay_conflicts(normalised)
    passthrough = {k: v for k, v in props.items() if k not in values}
    return {**passthrough, **normalised}, faults


def _overlay_conflicts(normalised: Mapping[str, Any]) -> list[InputFault]:
    """A base at the VM's own overlay path would be deleted with the VM: refuse it."""
    base, name, images = (normalised.get(k) for k in ("disk_path", "vm_name", "images_dir"))
    if not all(isinstance(v, str) for v in (base, name, images)):
        return []
    overlay = posixpath.join(str(images), f"{name}.qcow2")
    if base != overlay:
        return []
    return [
        InputFault(
            "disk_path",
            f"{base} is this VM's own overlay path (<images_dir>/<vm_name>.qcow2); keep bases "
            "out of that name: move the base, or change vm_name or images_dir",
        )
    ]


def parse_spec(props: Mapping[str, Any], defaults: ProviderDefaults) -> VmSpec:
    """The VmSpec for ``props``. Raises InputError listing every bad input."""
    normalised, faults = check_inputs(props, defaults, require_claim=False)
    unknown = [k for k, v in normalised.items() if _is_unknown(v)]
    faults += [InputFault(k, "is not known yet") for k in unknown]
    if faults:
        raise InputError(faults)
    base = (
        BaseSource("artifact", normalised["artifact"])
        if normalised.get("artifact") is not None
        else _disk_path(normalised["disk_path"])
    )
    return VmSpec(
        vm_name=normalised["vm_name"],
        memory_mib=normalised["memory_mib"],
        vcpu=normalised["vcpu"],
        base=base,
        state=RunState(normalised["state"]),
        disk_size_gib=normalised.get("disk_size_gib"),
        network_bridge=normalised.get("network_bridge"),
        cloud_init_user_data=normalised.get("cloud_init_user_data"),
        uri=normalised["uri"],
        domain_type=normalised["domain_type"],
        images_dir=normalised["images_dir"],
        shutdown_timeout_s=normalised["shutdown_timeout_s"],
        claim=normalised.get("claim"),
    )
