"""Smoke test of the test image: boot it under TCG with a NoCloud seed, read the serial log.

Builds (or reuses) the cached base image, puts a 3 GiB qcow2 overlay over it, writes a
``cidata`` seed ISO with pycdlib, boots with ``qemu-system-x86_64 -machine accel=tcg``
(seed on a virtio-scsi CD-ROM, disk on virtio, serial to a file) and checks that
cloud-init used the NoCloud datasource, ran ``runcmd`` with the hostname it set, grew the
root filesystem to the disk, and powered the guest off.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pycdlib
import pytest

BOOT_TIMEOUT_S = 420
OVERLAY_SIZE = 3 * 1024**3
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _load_builder() -> ModuleType:
    """Import build.py by path (``build`` alone would clash with the PyPI package)."""
    path = Path(__file__).with_name("build.py")
    spec = importlib.util.spec_from_file_location("vigo_test_image_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def base_image() -> Path:
    """The cached base image, built on first use (needs root)."""
    builder = _load_builder()
    if os.geteuid() != 0 and not builder.image_path().exists():
        pytest.fail("building the test image needs root (run the tests as root, as CI does)")
    image: Path = builder.ensure_image()
    return image


def make_seed_iso(path: Path, user_data: str, meta_data: str) -> None:
    """Write a NoCloud seed ISO: volume id ``cidata``, Joliet and Rock Ridge names."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, text in (("user-data", user_data), ("meta-data", meta_data)):
        data = text.encode()
        iso_name = "/" + name.replace("-", "").upper() + ".;1"
        iso.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=name, joliet_path="/" + name)
    iso.write(str(path))
    iso.close()


def boot(disk: Path, seed: Path, serial_log: Path, machine: str) -> float:
    """Boot ``disk`` with ``seed`` under TCG until the guest powers off; return seconds."""
    argv = [
        "qemu-system-x86_64",
        "-machine", f"{machine},accel=tcg",
        "-m", "1024",
        "-smp", "2",
        "-display", "none",
        "-monitor", "none",
        "-no-reboot",
        "-drive", f"file={disk},if=virtio,format=qcow2",
        "-device", "virtio-scsi-pci",
        "-drive", f"if=none,id=cd,file={seed},media=cdrom,readonly=on,format=raw",
        "-device", "scsi-cd,drive=cd",
        "-nic", "user,model=virtio-net-pci",
        "-serial", f"file:{serial_log}",
    ]  # fmt: skip
    started = time.monotonic()
    try:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=BOOT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        tail = _read_log(serial_log)[-3000:]
        pytest.fail(f"guest did not power off within {BOOT_TIMEOUT_S} s; serial tail:\n{tail}")
    return time.monotonic() - started


def _read_log(path: Path) -> str:
    if not path.exists():
        return ""
    return ANSI_ESCAPE.sub("", path.read_text(errors="replace"))


@pytest.mark.slow
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_image_boots_and_applies_nocloud_user_data(
    base_image: Path, tmp_path: Path, machine: str
) -> None:
    hostname = f"vigo-smoke-{machine}"
    user_data = f"""#cloud-config
hostname: {hostname}
runcmd:
  - [sh, -c, "echo VIGO-MARKER-$(hostname) > /dev/ttyS0"]
  - [sh, -c, "echo VIGO-ROOT-SIZE=$(df -B1 --output=size / | tail -n1 | tr -d ' ') > /dev/ttyS0"]
power_state: {{mode: poweroff}}
"""
    meta_data = f"instance-id: i-{hostname}\nlocal-hostname: {hostname}\n"
    seed = tmp_path / "seed.iso"
    make_seed_iso(seed, user_data, meta_data)
    overlay = tmp_path / "overlay.qcow2"
    backing = ["-F", "qcow2", "-b", str(base_image)]
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(overlay), str(OVERLAY_SIZE)],
        check=True,
    )
    serial_log = tmp_path / "serial.log"

    seconds = boot(overlay, seed, serial_log, machine)
    log = _read_log(serial_log)
    print(f"{machine}: boot to power-off took {seconds:.0f} s")

    assert "Datasource DataSourceNoCloud" in log, log[-3000:]
    assert "DataSourceNone" not in log
    assert f"VIGO-MARKER-{hostname}" in log, log[-3000:]
    sizes = re.findall(r"VIGO-ROOT-SIZE=(\d+)", log)
    assert sizes, log[-3000:]
    root_size = int(sizes[-1])
    # The base partition is 2 GiB; growpart + resize2fs should take it to ~3 GiB.
    assert 0.9 * OVERLAY_SIZE < root_size <= OVERLAY_SIZE, root_size
    assert "reboot: Power down" in log
