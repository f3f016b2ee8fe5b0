"""Fixtures for end-to-end tests: real Debian guests booted under TCG by the provider.

The stack, its program and the libvirt fixtures are the integration suite's
(``tests/integration/conftest.py``: :class:`Lab` and ``tests/integration/program``),
loaded by path; the guest image comes from ``tests/images/build.py`` (built once,
cached). Nothing is mocked and nothing is skipped: if the image cannot be built or
libvirtd is unreachable, the tests FAIL.

Domains are named ``e2e-<hash>-<name>``; their serial console is what libvirt logs at
``console_log_path``. That log is appended to across boots (and across runs of the same
test, which reuse the name), so it is deleted before a test starts and split per boot at
the kernel banner.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import libvirt
import pytest

from pulumi_vigo_vm.testing import RunResult

TESTS = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str) -> ModuleType:
    """Import a file by path under ``name`` (``conftest`` and ``build`` would clash)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_integration = _load(TESTS / "integration" / "conftest.py", "vigo_integration_conftest")
_builder = _load(TESTS / "images" / "build.py", "vigo_test_image_build")

Lab = _integration.Lab
LOCAL_URI: str = _integration.LOCAL_URI
libvirt_conn = _integration.libvirt_conn  # fixture: fails when libvirtd is unreachable
bridge = _integration.bridge  # fixture: the host bridge for the guests' NIC

DEFAULT_IMAGE_CACHE = Path("/var/tmp/pulumi-vigo-vm/images")
"""Used when ``$VIGO_TEST_IMAGE_CACHE`` is unset: qemu (user libvirt-qemu) must be able
to open the base image, which the builder's default under ``~root`` forbids."""

BOOT_TIMEOUT_S = 360
GIB = 1024**3
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KERNEL_BANNER = "Linux version "


def _require_readable_by_others(image: Path) -> None:
    """Fail unless every directory above ``image`` is traversable and it is readable."""
    for directory in image.parents:
        if not directory.stat().st_mode & stat.S_IXOTH:
            pytest.fail(
                f"{directory} is not traversable by qemu's user, so libvirt cannot open the "
                f"base image {image}; set {_builder.CACHE_ENV} to a directory under /var/tmp"
            )
    if not image.stat().st_mode & stat.S_IROTH:
        pytest.fail(f"the base image {image} is not readable by qemu's user")


@pytest.fixture(scope="session")
def base_image() -> Path:
    """The cached Debian 12 cloud-init image, built on first use (needs root)."""
    configured = os.environ.get(_builder.CACHE_ENV)
    cache = Path(configured) if configured else DEFAULT_IMAGE_CACHE
    try:
        image: Path = _builder.ensure_image(cache)
    except Exception as exc:  # any build failure must FAIL, never skip
        pytest.fail(f"could not build the test image into {cache}: {exc!r}")
    _require_readable_by_others(image)
    return image


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

    lab: Any  # the integration suite's Lab
    image: Path
    short: str = "vm"

    @property
    def name(self) -> str:
        return str(self.lab.name(self.short))

    def declare(self, user_data: str, **args: Any) -> None:
        """Declare the VM: 3 GiB overlay over the image, TCG, NIC on the bridge."""
        self.lab.vm(
            self.short,
            disk_path=str(self.image),
            domain_type="qemu",
            memory_mib=1024,
            vcpu=2,
            disk_size_gib=3,
            network_bridge=self.lab.bridge,
            cloud_init_user_data=user_data,
            shutdown_timeout_s=60,
            **args,
        )

    def up(self) -> RunResult:
        result: RunResult = self.lab.up()
        return result

    def outputs(self) -> dict[str, Any]:
        """The resource's recorded outputs (secrets unwrapped)."""
        snapshot = self.lab.harness().snapshot()
        (resource,) = (r for r in snapshot.resources.values() if r.name == self.short)
        outputs: dict[str, Any] = resource.plain_outputs()
        return outputs

    @property
    def console_path(self) -> Path:
        return Path(self.outputs()["console_log_path"])

    def console(self) -> str:
        return read_console(self.console_path)

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
            time.sleep(2)
        return time.monotonic() - started


@pytest.fixture(scope="session")
def make_guest(
    base_image: Path, bridge: str, libvirt_conn: libvirt.virConnect
) -> Iterator[Callable[[str], Guest]]:
    """Factory: ``make_guest(key)`` gives a fresh Guest in its own stack and directory.

    The directory is world-traversable, under /var/tmp, for qemu's user. Domains, files
    and stale console logs of that key are removed first; everything made is removed at
    the end of the session (console logs are kept for post-mortems).
    """
    labs: list[tuple[Any, Path]] = []

    def make(key: str) -> Guest:
        digest = hashlib.sha256(key.encode()).hexdigest()[:6]
        root = Path(tempfile.mkdtemp(prefix=f"vigo-e2e-{digest}-", dir="/var/tmp"))
        root.chmod(0o755)
        lab = Lab(root, LOCAL_URI, bridge, libvirt_conn, prefix=f"e2e-{digest}")
        lab.cleanup()
        labs.append((lab, root))
        guest = Guest(lab, base_image)
        Path(f"/var/log/libvirt/qemu/{guest.name}-console.log").unlink(missing_ok=True)
        return guest

    yield make
    for lab, root in labs:
        lab.cleanup()
        shutil.rmtree(root, ignore_errors=True)
