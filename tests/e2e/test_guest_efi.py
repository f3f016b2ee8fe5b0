"""One real Debian guest booted by UEFI (OVMF, through the test image's ESP) under TCG:
cloud-init applies its user-data, and ``fstrim`` in the guest returns freed space to the
overlay on the host (the root disk carries ``discard='unmap'``). Proof comes from the
guest's serial console, the domain's live XML and the overlay's allocation on the host."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .support import BOOT_TIMEOUT_S, Guest, tail

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]

FILL_MIB = 128
USER_DATA = f"""#cloud-config
hostname: efi-guest
runcmd:
  - [sh, -c, "test -d /sys/firmware/efi && echo VIGO-E2E-EFI=$(hostname) > /dev/ttyS0"]
  - [sh, -c, "dd if=/dev/zero of=/var/tmp/fill bs=1M count={FILL_MIB} conv=fsync status=none"]
  - [sh, -c, "echo VIGO-E2E-FILLED > /dev/ttyS0; sleep 6; rm /var/tmp/fill; sync"]
  - [sh, -c, "fstrim -v / > /dev/ttyS0 2>&1; echo VIGO-E2E-TRIMMED > /dev/ttyS0"]
"""


def allocated(path: Path) -> int:
    """Bytes the overlay occupies on the host (holes punched by discard excluded)."""
    return path.stat().st_blocks * 512


def test_an_efi_guest_applies_its_user_data_and_fstrim_shrinks_its_overlay(
    make_guest: Any,
) -> None:
    guest: Guest = make_guest("e2e/efi")
    guest.declare(USER_DATA, firmware="efi", network_bridge=None)

    assert guest.up().ops() == {"vm": "create"}

    domain = guest.lab.domain(guest.short)
    loader = ET.fromstring(domain.XMLDesc(0)).find("os/loader")
    assert loader is not None and loader.get("type") == "pflash" and "OVMF" in (loader.text or "")
    guest.wait_for_boot_log(1, r"VIGO-E2E-EFI=efi-guest")  # Linux sees UEFI; user-data ran
    nvram = guest.lab.images_dir / f"{guest.name}@VARS.fd"
    assert nvram.is_file()

    overlay = guest.lab.overlay(guest.short)
    guest.wait_for_boot_log(1, r"VIGO-E2E-FILLED")
    filled = allocated(overlay)
    guest.wait_for_boot_log(1, r"VIGO-E2E-TRIMMED", timeout=BOOT_TIMEOUT_S)
    deadline = time.monotonic() + 30
    while allocated(overlay) > filled - FILL_MIB * 1024**2 // 2 and time.monotonic() < deadline:
        time.sleep(1)
    trimmed = allocated(overlay)
    print(f"overlay: {filled / 1024**2:.0f} MiB filled, {trimmed / 1024**2:.0f} MiB trimmed")
    assert trimmed <= filled - FILL_MIB * 1024**2 // 2, tail(guest.console())

    guest.lab.harness().destroy()
    assert not nvram.exists()
