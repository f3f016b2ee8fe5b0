"""Helpers of the end-to-end tests: the guest under test and its serial console.

The stack and its program are the shared Lab's (``support.lab.Lab``, which drives
``tests/integration/program`` through the engine harness); the guest image comes
from ``tests/images/build.py``, loaded by path (``build`` would clash with the PyPI package).
"""

from __future__ import annotations

import importlib.util
import re
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import RunResult
from pulumi_vigo_vm.vm import ownership

TESTS = Path(__file__).resolve().parents[1]


def _load_builder() -> ModuleType:
    """``tests/images/build.py``, imported by path under the name test_image_boot uses."""
    name = "vigo_test_image_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / "images" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


builder = _load_builder()

DEFAULT_IMAGE_CACHE = Path("/var/tmp/pulumi-vigo-vm/images")
"""Used when ``$VIGO_TEST_IMAGE_CACHE`` is unset: qemu (user libvirt-qemu) must be able
to open the base image, which the builder's default under ``~root`` forbids."""

BOOT_TIMEOUT_S = 360
POLL_S = 0.5
"""How often a wait looks at libvirt and the console: a boot's end is seen within half a
second (a lookup and a read of a log of tens of KiB cost milliseconds)."""
GIB = 1024**3
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KERNEL_BANNER = "Linux version "


def console_log_path(vm_name: str) -> Path:
    """Where libvirt logs the serial console (also the resource's ``console_log_path``)."""
    return Path(ownership.console_log_path(vm_name))


def require_readable_by_others(image: Path) -> None:
    """Fail unless every directory above ``image`` is traversable and it is readable."""
    for directory in image.parents:
        if not directory.stat().st_mode & stat.S_IXOTH:
            pytest.fail(
                f"{directory} is not traversable by qemu's user, so libvirt cannot open the "
                f"base image {image}; set {builder.CACHE_ENV} to a directory under /var/tmp"
            )
    if not image.stat().st_mode & stat.S_IROTH:
        pytest.fail(f"the base image {image} is not readable by qemu's user")


def read_console(path: Path) -> str:
    """The serial log as text, without colour escapes and carriage returns."""
    if not path.exists():
        return ""
    text = path.read_bytes().decode(errors="replace")
    return ANSI_ESCAPE.sub("", text).replace("\r", "")


def split_boots(text: str) -> list[str]:
    """The log of each boot, oldest first: everything from one kernel banner to the next."""
    return [KERNEL_BANNER + part for part in text.split(KERNEL_BANNER)[1:]]


def tail(text: str, chars: int = 4000) -> str:
    return text[-chars:]


@dataclass
class Guest:
    """One VM (logical name ``vm``) in its own stack, booted from the test image."""

    lab: Lab
    image: Path
    short: str = "vm"

    @property
    def name(self) -> str:
        return str(self.lab.name(self.short))

    def declare(self, user_data: str, **args: Any) -> None:
        """Declare the VM: 3 GiB overlay over the image, TCG, NIC on the bridge (``args``
        override; ``None`` drops an input, e.g. ``network_bridge=None``)."""
        declared: dict[str, Any] = {
            "disk_path": str(self.image),
            "domain_type": "qemu",
            "memory_mib": 1024,
            "vcpu": 2,
            "disk_size_gib": 3,
            "network_bridge": self.lab.bridge,
            "cloud_init_user_data": user_data,
            "shutdown_timeout_s": 60,
        }
        self.lab.vm(self.short, **{**declared, **args})

    def up(self) -> RunResult:
        result: RunResult = self.lab.up()
        return result

    def outputs(self) -> dict[str, Any]:
        """The resource's recorded outputs (secrets unwrapped)."""
        return self.lab.outputs(self.short)

    def console(self) -> str:
        return read_console(console_log_path(self.name))

    def boots(self) -> list[str]:
        return split_boots(self.console())

    def power(self) -> str:
        return str(self.lab.power(self.short))

    def seeds(self) -> list[Path]:
        return list(self.lab.seeds(self.short))

    def wait_until_shut_off(self, timeout: float = BOOT_TIMEOUT_S) -> float:
        """Poll libvirt until the guest has powered itself off; return the seconds waited."""
        return self._wait(lambda: self.power() == "stopped", "shut off", timeout)

    def wait_for_boot_log(
        self, boot: int, pattern: str, timeout: float = BOOT_TIMEOUT_S
    ) -> re.Match[str]:
        """Poll the console until boot number ``boot`` (1-based) logs ``pattern``."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            boots = self.boots()
            match = re.search(pattern, boots[boot - 1]) if len(boots) >= boot else None
            if match:
                found.append(match)
            return match is not None

        self._wait(seen, f"log {pattern!r} in boot {boot}", timeout)
        return found[0]

    def _wait(self, done: Callable[[], bool], what: str, timeout: float) -> float:
        started = time.monotonic()
        while not done():
            if self.power() == "absent":
                pytest.fail(f"domain {self.name} vanished while waiting for it to {what}")
            if time.monotonic() - started > timeout:
                pytest.fail(
                    f"{self.name} did not {what} within {timeout:.0f} s; console tail:\n"
                    + tail(self.console())
                )
            time.sleep(POLL_S)
        return time.monotonic() - started
