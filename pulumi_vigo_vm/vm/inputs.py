"""What each VM input may be: its value types, limits and validator. Pure: no I/O.

Every validator takes the loosely typed value the engine hands over (numbers arrive as
floats in every method, integers may be numeric strings) and returns the normalised value,
or raises ``ValueError(reason)``; :mod:`pulumi_vigo_vm.vm.spec` turns reasons into one
:class:`~pulumi_vigo_vm.errors.InputFault` per input. :mod:`pulumi_vigo_vm.vm.fields` says
which validator belongs to which input.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from ..common.arches import ARCHES
from ..common.inputs import (
    CLAIM_REASON,
    CONTROL,
    MAX_DISK_SIZE_GIB,
    absolute_path,
    claim,
    disk_size_gib,
    images_dir,
    named,
    one_of,
    uri,
    xml_text,
)
from ..common.numbers import as_written, shown, whole_number
from ..common.uri import DEFAULT_URI
from ..spec import DEFAULT_ARTIFACTS_DIR, DEFAULT_DOMAIN_TYPE, DEFAULT_IMAGES_DIR
from .cloudinit import MAX_META_DATA_BYTES
from .domain_xml import Firmware

__all__ = [
    "ARCHES",
    "CLAIM_REASON",
    "DEFAULT_ARTIFACTS_DIR",
    "DEFAULT_DOMAIN_TYPE",
    "DEFAULT_IMAGES_DIR",
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_URI",
    "DEFAULT_WAIT_TIMEOUT_S",
    "MAX_DISK_SIZE_GIB",
    "MAX_MEMORY_MIB",
    "MAX_SHUTDOWN_TIMEOUT_S",
    "MAX_USER_DATA_BYTES",
    "MAX_VCPU",
    "RESERVED_META_DATA_KEYS",
    "AddressSource",
    "BaseSource",
    "DiskMode",
    "Firmware",
    "HostChange",
    "RunState",
    "SeedChange",
    "WaitFor",
    "address_source",
    "adopt",
    "arch",
    "artifact",
    "claim",
    "cloud_init_meta_data",
    "cloud_init_network_config",
    "cloud_init_user_data",
    "cloud_init_vendor_data",
    "cpu_mode",
    "default_autostart",
    "default_cpu_mode",
    "disk_mode",
    "disk_path",
    "disk_size_gib",
    "domain_type",
    "firmware",
    "flag",
    "images_dir",
    "machine",
    "memory_mib",
    "network",
    "network_bridge",
    "on_host_change",
    "on_seed_change",
    "one_of",
    "shutdown_timeout_s",
    "state",
    "uri",
    "vcpu",
    "vm_name",
    "wait_for",
    "wait_timeout_s",
]

DEFAULT_SHUTDOWN_TIMEOUT_S = 120

MAX_MEMORY_MIB = 16 * 1024 * 1024  # 16 TiB: beyond any host libvirt runs on
MAX_VCPU = 4096  # libvirt's own ceiling for x86 guests
MAX_SHUTDOWN_TIMEOUT_S = 24 * 3600
MAX_USER_DATA_BYTES = 16 * 1024 * 1024  # what one NoCloud seed ISO reasonably carries

_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_BRIDGE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_POOL_OBJECT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where built in (a 16 MiB document parses in well under a second)."""


class RunState(StrEnum):
    """The desired run state of a VM."""

    RUNNING = "running"
    STOPPED = "stopped"
    DEFINED = "defined"
    ABSENT = "absent"


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


def vm_name(value: Any) -> str:
    return named(
        value,
        "the libvirt domain name",
        _VM_NAME,
        "a valid VM name: use 1-63 characters from A-Z a-z 0-9 . _ -, starting with a "
        "letter or digit (it also names the overlay and seed files)",
    )


def disk_path(value: Any) -> BaseSource:
    text = xml_text(value, "an absolute path to a base image, or pool:volume")
    if text.startswith("/"):
        return BaseSource("file", absolute_path(text, "a base image path"))
    pool, sep, volume = text.partition(":")
    if sep and _POOL_OBJECT.fullmatch(pool) and _POOL_OBJECT.fullmatch(volume):
        return BaseSource("pool", text)
    raise ValueError(
        f"{shown(text)} is neither an absolute file path nor pool:volume "
        "(e.g. /var/lib/libvirt/images/base.qcow2 or default:base.qcow2)"
    )


def artifact(value: Any) -> BaseSource:
    text = xml_text(value, "a curator artifact reference")
    from ..curator.reference import parse_reference  # pure; imported late to keep import light

    try:
        parse_reference(text)
    except Exception as exc:  # CuratorError carries the friendly reason
        raise ValueError(str(exc)) from exc
    return BaseSource("artifact", text)


def state(value: Any) -> RunState:
    result: RunState = one_of(value, RunState)
    return result


def network_bridge(value: Any) -> str:
    name = xml_text(value, "a host bridge interface name")
    if not _BRIDGE.fullmatch(name) or name in (".", ".."):
        raise ValueError(
            f"{shown(name)} is not a Linux interface name: 1-15 characters from "
            "A-Z a-z 0-9 _ . - (no '/', ':' or spaces), e.g. br0 or virbr0"
        )
    return name


def _seed_document(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string ({what}), got {type(value).__name__}")
    if len(value.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"is larger than {MAX_USER_DATA_BYTES // (1024 * 1024)} MiB")
    return value


def cloud_init_user_data(value: Any) -> str:
    return _seed_document(value, "a #cloud-config document or a script")


def cloud_init_vendor_data(value: Any) -> str:
    return _seed_document(value, "a #cloud-config document or a script")


_NETWORK_CONFIG_VERSIONS = (1, 2)


def cloud_init_network_config(value: Any) -> str:
    """A NoCloud network-config: YAML holding a mapping whose ``version`` is 1 or 2 (at the
    top, or under ``network:``), refused here with the YAML error's line and column, since a
    guest given anything else silently keeps its default network."""
    text = _seed_document(value, "a NoCloud network-config document, version 1 or 2 YAML")
    try:
        document = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(
            f"is not valid YAML{where}: {problem}; give a version 1 or 2 network-config"
        ) from None
    config = document.get("network", document) if isinstance(document, Mapping) else document
    if not isinstance(config, Mapping):
        raise ValueError(
            f"must be a YAML mapping (a version 1 or 2 network-config), got "
            f"{type(document).__name__}: e.g. 'version: 2\\nethernets: ...'"
        )
    version = config.get("version")
    if isinstance(version, bool) or version not in _NETWORK_CONFIG_VERSIONS:
        raise ValueError(
            f"must say 'version: 1' or 'version: 2' (cloud-init's network-config formats), "
            f"got version {shown(version)}"
        )
    return text


RESERVED_META_DATA_KEYS = ("instance-id", "local-hostname")
"""Meta-data the seed writes itself: the instance-id decides when cloud-init runs again."""


def cloud_init_meta_data(value: Any) -> dict[str, Any]:
    """Extra NoCloud meta-data keys: a mapping of JSON values (the seed writes JSON)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a mapping of meta-data keys, got {type(value).__name__}")
    reserved = sorted(k for k in value if k in RESERVED_META_DATA_KEYS)
    if reserved:
        raise ValueError(
            f"must not set {', '.join(reserved)}: the seed writes them (instance-id changes with "
            "the seed's content; local-hostname is vm_name)"
        )
    for key in value:
        if not isinstance(key, str) or not key or CONTROL.search(key):
            raise ValueError(f"keys must be non-empty strings, got {shown(key)}")
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"must hold JSON values only: {exc}") from None
    if len(text.encode()) > MAX_META_DATA_BYTES:
        raise ValueError(f"is larger than {MAX_META_DATA_BYTES // 1024} KiB as JSON")
    loaded: dict[str, Any] = as_written(json.loads(text))  # plain dicts and lists, 8080 not 8080.0
    return loaded


class SeedChange(StrEnum):
    """What a change of the seed's content does to the VM."""

    REPLACE = "replace"  # a new VM with a fresh root (the reference page's rule)
    RESEED = "reseed"  # a new seed and instance-id on the same disks, then a restart


def on_seed_change(value: Any) -> SeedChange:
    result: SeedChange = one_of(value, SeedChange)
    return result


class HostChange(StrEnum):
    """What a change of ``uri`` does to the VM (operations.md §6)."""

    REPLACE = "replace"  # a new VM on the other host (the reference page's rule)
    MIGRATE = "migrate"  # the same VM moved there: live when it runs, its files copied


def on_host_change(value: Any) -> HostChange:
    result: HostChange = one_of(value, HostChange)
    return result


def domain_type(value: Any) -> str:
    if value not in ("kvm", "qemu"):
        raise ValueError(f"must be kvm or qemu (software emulation), got {shown(value)}")
    return str(value)


def memory_mib(value: Any) -> int:
    return whole_number(value, 1, MAX_MEMORY_MIB, " MiB")


def vcpu(value: Any) -> int:
    return whole_number(value, 1, MAX_VCPU)


def max_vcpu(value: Any) -> int:
    return whole_number(value, 1, MAX_VCPU)


def max_memory_mib(value: Any) -> int:
    return whole_number(value, 1, MAX_MEMORY_MIB, " MiB")


def shutdown_timeout_s(value: Any) -> int:
    return whole_number(value, 0, MAX_SHUTDOWN_TIMEOUT_S, " seconds")


class WaitFor(StrEnum):
    """What ``create``/``update`` wait for once the guest runs."""

    NONE = "none"
    IP = "ip"  # an address is known for the first NIC
    READY = "ready"  # cloud-init finished on this boot


class AddressSource(StrEnum):
    """Where a VM's addresses are looked up; ``any`` tries them in this order."""

    ANY = "any"
    LEASE = "lease"
    AGENT = "agent"
    ARP = "arp"
    CONSOLE = "console"


DEFAULT_WAIT_TIMEOUT_S = 300
MAX_WAIT_TIMEOUT_S = 24 * 3600
_NETWORK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


def network(value: Any) -> str:
    return named(
        value,
        "a libvirt network name",
        _NETWORK,
        "a libvirt network name: 1-64 characters from A-Z a-z 0-9 _ . + -, e.g. default "
        "(virsh net-list --all)",
    )


def wait_for(value: Any) -> WaitFor:
    result: WaitFor = one_of(value, WaitFor)
    return result


def address_source(value: Any) -> AddressSource:
    result: AddressSource = one_of(value, AddressSource)
    return result


def wait_timeout_s(value: Any) -> int:
    return whole_number(value, 1, MAX_WAIT_TIMEOUT_S, " seconds")


class DiskMode(StrEnum):
    """What the root disk is (operations spec §2)."""

    OVERLAY = "overlay"  # <images_dir>/<vm_name>.qcow2 over the base: the VM's own file
    COPY = "copy"  # <images_dir>/<vm_name>.qcow2 copied from the base, no backing file
    ATTACH = "attach"  # disk_path itself, used as it is: never written by us, never removed


_CPU_MODES = ("host-passthrough", "host-model", "maximum")
_CPU_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_MACHINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def firmware(value: Any) -> Firmware:
    result: Firmware = one_of(value, Firmware)
    return result


def disk_mode(value: Any) -> DiskMode:
    result: DiskMode = one_of(value, DiskMode)
    return result


def adopt(value: Any) -> str:
    """A domain's UUID, as libvirt prints it (lower case, hyphens): any case, braces or a
    ``urn:uuid:`` prefix are accepted, so a UUID copied from any tool compares equal."""
    if not isinstance(value, str):
        raise ValueError(f"must be the UUID of the domain to adopt (a string), got {shown(value)}")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(
            f"must be the UUID of the domain to adopt (virsh domuuid <vm_name>), got {shown(value)}"
        ) from None


def flag(value: Any) -> bool:
    """A boolean input (``tpm``, ``autostart``, ``restart_on_change``); "true"/"false" as a
    YAML or config tool writes them."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"must be true or false, got {shown(value)}")


def default_autostart(state: str) -> bool:
    """A VM that is to run comes back when its host boots; one kept off or merely defined
    stays as the host leaves it."""
    return state == RunState.RUNNING.value


def default_cpu_mode(domain_type: str) -> str:
    """``host-passthrough`` under KVM (the host's own CPU, fastest); ``maximum`` under
    software emulation, where passthrough is refused and libvirt's default (``qemu64``)
    lacks x86-64-v2, which RHEL 9-family guests need."""
    return "host-passthrough" if domain_type == "kvm" else "maximum"


def cpu_mode(value: Any) -> str:
    text = xml_text(value, "a libvirt CPU mode")
    if text in _CPU_MODES:
        return text
    kind, sep, model = text.partition(":")
    if kind == "custom" and sep and _CPU_MODEL.fullmatch(model):
        return text
    raise ValueError(
        f"{shown(text)} is not a CPU mode: use host-passthrough, host-model, maximum or "
        "custom:<model> (e.g. custom:EPYC; virsh cpu-models x86_64)"
    )


def machine(value: Any) -> str:
    return named(
        value,
        "a machine type",
        _MACHINE,
        "a machine type: e.g. q35, pc, virt, pc-q35-7.2 (virsh capabilities lists them)",
    )


def arch(value: Any) -> str:
    text = xml_text(value, "a guest architecture")
    if text not in ARCHES:
        raise ValueError(f"must be one of {', '.join(ARCHES)}; got {shown(text)}")
    return text
