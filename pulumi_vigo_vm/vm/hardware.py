"""The tuning and devices an operator sets on a VM (operations spec §4): disk cache, IO mode
and limits, the RNG, a watchdog, a display and the boot order, and a NIC's macvtap mode,
VLAN tag and bandwidth; each input's validator and value type. Pure: no I/O.

Each validator takes the loosely typed value the engine hands over and returns the
normalised value (idempotent on its own output), or raises ``ValueError(reason)``; a reason
never quotes a secret (``graphics_password``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..common.inputs import CONTROL, one_of, xml_text
from ..common.numbers import shown, whole_number
from .domain_xml import DiskTune

__all__ = [
    "MAX_BANDWIDTH_KIB_S",
    "MAX_IOTUNE",
    "MAX_VNC_PASSWORD",
    "BootDevice",
    "CacheMode",
    "DiskTune",
    "GraphicsType",
    "IoMode",
    "MacvtapMode",
    "Watchdog",
    "WatchdogAction",
    "WatchdogModel",
    "bandwidth",
    "boot_order",
    "bytes_per_s",
    "cache",
    "graphics",
    "graphics_listen",
    "graphics_password",
    "io",
    "iops",
    "macvtap_mode",
    "tuning_conflict",
    "vlan",
    "watchdog",
]

MAX_IOTUNE = 10**15
"""libvirt's ceiling for every ``<iotune>`` value (``QEMU_BLOCK_IOTUNE_MAX``)."""
MAX_BANDWIDTH_KIB_S = 2**32 - 1
"""An ``average`` libvirt hands to ``tc`` as a 32-bit KiB/s rate."""
MAX_VNC_PASSWORD = 8
"""The RFB protocol's DES challenge uses the first 8 characters; qemu ignores the rest."""


class CacheMode(StrEnum):
    """``<driver cache=…>`` (libvirt's formatdomain, "Hard drives": libvirt's own default
    is what omitting it gives)."""

    NONE = "none"
    WRITETHROUGH = "writethrough"
    WRITEBACK = "writeback"
    DIRECTSYNC = "directsync"
    UNSAFE = "unsafe"


class IoMode(StrEnum):
    """``<driver io=…>``: qemu's AIO backend."""

    THREADS = "threads"
    NATIVE = "native"
    IO_URING = "io_uring"


DIRECT_CACHES = (CacheMode.NONE.value, CacheMode.DIRECTSYNC.value)
"""The cache modes that bypass the host's page cache: qemu refuses ``io="native"`` without
one (``aio=native was specified, but it requires cache.direct=on``)."""


class MacvtapMode(StrEnum):
    BRIDGE = "bridge"
    VEPA = "vepa"
    PRIVATE = "private"
    PASSTHROUGH = "passthrough"


class WatchdogModel(StrEnum):
    I6300ESB = "i6300esb"  # a PCI device: any machine
    ITCO = "itco"  # the ICH9 chipset's own: q35 only


class WatchdogAction(StrEnum):
    RESET = "reset"
    POWEROFF = "poweroff"
    SHUTDOWN = "shutdown"
    PAUSE = "pause"
    DUMP = "dump"
    NONE = "none"


class GraphicsType(StrEnum):
    VNC = "vnc"
    SPICE = "spice"


class BootDevice(StrEnum):
    HD = "hd"
    CDROM = "cdrom"
    NETWORK = "network"


@dataclass(frozen=True)
class Watchdog:
    model: WatchdogModel = WatchdogModel.I6300ESB
    action: WatchdogAction = WatchdogAction.RESET

    def to_input(self) -> dict[str, Any]:
        return {"model": self.model.value, "action": self.action.value}


def cache(value: Any) -> str:
    result: CacheMode = one_of(value, CacheMode)
    return result.value


def io(value: Any) -> str:
    result: IoMode = one_of(value, IoMode)
    return result.value


def iops(value: Any) -> int:
    return whole_number(value, 1, MAX_IOTUNE, " operations per second")


def bytes_per_s(value: Any) -> int:
    return whole_number(value, 1, MAX_IOTUNE, " bytes per second")


def tuning_conflict(tune: DiskTune) -> str | None:
    """Why qemu would refuse ``tune``, or None."""
    if tune.io == IoMode.NATIVE.value and tune.cache not in DIRECT_CACHES:
        return (
            f'io="native" needs a cache that bypasses the host page cache: add cache="none" '
            f'(or "directsync"), or use io="threads" or "io_uring"; cache is {tune.cache!r}'
        )
    return None


def macvtap_mode(value: Any) -> str:
    result: MacvtapMode = one_of(value, MacvtapMode)
    return result.value


def vlan(value: Any) -> int:
    return whole_number(value, 1, 4094, " (a VLAN ID)")


def bandwidth(value: Any) -> dict[str, int]:
    """``{"inbound": KiB/s, "outbound": KiB/s}``, either or both."""
    if not isinstance(value, Mapping):
        raise ValueError(
            f'must be a mapping {{"inbound": KiB/s, "outbound": KiB/s}}, got {shown(value)}'
        )
    unknown = sorted(set(value) - {"inbound", "outbound"})
    if unknown:
        raise ValueError(
            f"has unknown keys {', '.join(map(repr, unknown))}; known: inbound, outbound"
        )
    result = {
        key: whole_number(value[key], 1, MAX_BANDWIDTH_KIB_S, " KiB/s")
        for key in ("inbound", "outbound")
        if value.get(key) is not None
    }
    if not result:
        raise ValueError("needs inbound or outbound (KiB/s), or leave bandwidth out")
    return result


def watchdog(value: Any) -> Watchdog:
    """``{"model": ..., "action": ...}``; model ``i6300esb`` and action ``reset`` by default."""
    if isinstance(value, Watchdog):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f'must be a mapping {{"model": ..., "action": ...}}, got {shown(value)}')
    unknown = sorted(set(value) - {"model", "action"})
    if unknown:
        raise ValueError(f"has unknown keys {', '.join(map(repr, unknown))}; known: model, action")
    try:
        model = one_of(value.get("model") or WatchdogModel.I6300ESB.value, WatchdogModel)
    except ValueError as exc:
        raise ValueError(f"model {exc}") from None
    try:
        action = one_of(value.get("action") or WatchdogAction.RESET.value, WatchdogAction)
    except ValueError as exc:
        raise ValueError(f"action {exc}") from None
    return Watchdog(model, action)


def graphics(value: Any) -> str:
    result: GraphicsType = one_of(value, GraphicsType)
    return result.value


def graphics_listen(value: Any) -> str:
    """An IPv4 or IPv6 address of the host (``0.0.0.0`` or ``::`` for every one)."""
    text = xml_text(value, "an IP address")
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(
            f"must be an IP address of the host (127.0.0.1, 0.0.0.0, ::1), got {shown(text)}"
        ) from None


def graphics_password(value: Any) -> str:
    """Any printable text; its value never appears in a refusal."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    if CONTROL.search(value) or not value.isprintable():
        raise ValueError("must hold printable characters only (no control characters)")
    if len(value) > 64:
        raise ValueError(f"holds {len(value)} characters; at most 64")
    return value


def boot_order(value: Any) -> tuple[str, ...]:
    """Devices to boot from, in order, each at most once."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f'must be a list such as ["hd", "cdrom"], got {shown(value)}')
    if not value:
        raise ValueError('needs at least one device ("hd", "cdrom", "network"), or leave it out')
    result: list[str] = []
    for index, item in enumerate(value):
        try:
            device: BootDevice = one_of(item, BootDevice)
        except ValueError as exc:
            raise ValueError(f"[{index}] {exc}") from None
        if device.value in result:
            raise ValueError(f"[{index}] {device.value!r} appears twice; name each device once")
        result.append(device.value)
    return tuple(result)
