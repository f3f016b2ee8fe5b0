"""Faults of the host under a run: libvirtd restarted, a guest deaf to ACPI, the base image
gone or replaced, a full disk, out-of-band renames, and many VMs at once.

Each scenario ends with a clear error or success, no VM data lost, and a next ``up`` that
converges with no orphan domain, overlay or seed ISO.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.disks import has_marker, image_info, qemu_img, sha256, write_marker
from support.lab import Lab as RelLab
from support.world import LOCAL_URI

from pulumi_vigo_vm.testing import ProviderError

from .rellab import ProviderLog, open_when_ready, restart_libvirtd

pytestmark = pytest.mark.libvirt


# --------------------------------------------------------------------------- libvirtd restart


@pytest.mark.restarts_libvirtd
def test_libvirtd_restarted_in_the_middle_of_an_up_of_ten_vms(rlab: RelLab) -> None:
    old = [f"old{i}" for i in range(5)]
    new = [f"new{i}" for i in range(5)]
    for short in old:
        rlab.vm(short, state="stopped")
    rlab.up()
    for short in old:
        write_marker(rlab.overlay(short))
    # Ten VMs in one up: five redefined in place (memory), five created; every define waits
    # a little (fault hook "sleep"), and the last new VM waits longer before its overlay, so
    # the restart lands among the creates, not before or after them.
    for short in old:
        rlab.vm(short, state="stopped", memory_mib=80)
    for short in new:
        rlab.vm(short, state="stopped")
    made_at_restart: list[int] = []

    def restart_when_the_creates_have_begun() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(rlab.overlay(short).exists() for short in new):
                break
            time.sleep(0.005)
        made_at_restart.append(sum(rlab.overlay(short).exists() for short in new))
        restart_libvirtd()

    restarter = threading.Thread(target=restart_when_the_creates_have_begun)
    restarter.start()
    try:
        late = [f"sleep-before:create-overlay@{rlab.name(new[-1])}"] * 6
        result = rlab.faulty(",".join(["sleep-before:define", *late]), raise_on_error=False).up()
    finally:
        restarter.join()
    rlab.conn = open_when_ready()  # the test's own connection died with the daemon

    assert made_at_restart and made_at_restart[0] < len(new), "restart not mid-up"
    for error in result.errors:  # a failure must say what failed, and where
        assert isinstance(error, ProviderError), error
        assert LOCAL_URI in str(error) or "libvirt" in str(error), error

    rlab.up()

    for short in old:
        assert has_marker(rlab.overlay(short)), f"{short} lost its data"
        dom = rlab.domain(short)
        assert dom is not None and dom.maxMemory() == 80 * 1024
    rlab.assert_converged()


# --------------------------------------------------------------------------- ACPI-deaf guest


def test_a_guest_ignoring_acpi_is_forced_off_after_the_timeout_with_a_warning(
    rlab: RelLab, provider_log: ProviderLog
) -> None:
    rlab.vm("deaf", state="stopped", shutdown_timeout_s=2)  # a blank disk has no ACPI handler
    rlab.up()
    write_marker(rlab.overlay("deaf"))
    rlab.vm("deaf", state="running", shutdown_timeout_s=2)
    rlab.up()
    assert rlab.power("deaf") == "running"

    rlab.vm("deaf", state="stopped", shutdown_timeout_s=2)
    started = time.monotonic()
    result = rlab.up()
    took = time.monotonic() - started

    assert result.ops() == {"deaf": "update"}
    assert rlab.power("deaf") == "stopped"
    assert took >= 2, "forced off before shutdown_timeout_s"
    warnings = [line for line in provider_log.lines if line.startswith("warning:")]
    assert any(rlab.name("deaf") in line and "forcing power-off" in line for line in warnings), (
        warnings
    )
    assert has_marker(rlab.overlay("deaf"))
    rlab.assert_converged()


# --------------------------------------------------------------------------- base image


def _stopped_vm_with_data(rlab: RelLab) -> tuple[Path, str]:
    """VM ``a`` built, stopped, with data written into its disk: (its base, the disk's hash)."""
    rlab.vm("a", state="stopped")
    rlab.up()
    write_marker(rlab.overlay("a"))
    return rlab.base(), sha256(rlab.overlay("a"))


def test_base_deleted_after_vms_were_built_is_reported_and_nothing_is_rebuilt(
    rlab: RelLab,
) -> None:
    base, before = _stopped_vm_with_data(rlab)
    base.rename(base.with_suffix(".away"))

    for verb in ("preview", "up"):
        with pytest.raises(ProviderError, match=rf"base image {base} does not exist"):
            getattr(rlab.harness(), verb)()
    assert sha256(rlab.overlay("a")) == before, "the overlay was touched"
    assert rlab.power("a") == "stopped"

    base.with_suffix(".away").rename(base)  # the operator restores it
    assert has_marker(rlab.overlay("a"))
    rlab.assert_converged()


@pytest.mark.parametrize("replacement", ["raw", "bigger-qcow2", "same-size-qcow2"])
def test_base_replaced_after_vms_were_built_shows_a_replace_in_preview(
    rlab: RelLab, replacement: str
) -> None:
    base, before = _stopped_vm_with_data(rlab)
    base.unlink()
    if replacement == "raw":
        qemu_img("create", "-q", "-f", "raw", str(base), "64M")
    elif replacement == "bigger-qcow2":
        qemu_img("create", "-q", "-f", "qcow2", str(base), "128M")
    else:  # another image of the same format and size, different content
        qemu_img("create", "-q", "-f", "qcow2", str(base), "64M")
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 192k", str(base)],
            check=True,
            capture_output=True,
        )

    step = rlab.preview().step("a")

    assert (step.op, list(step.replaces)) == ("replace", ["disk_path"]), step.describe()
    assert sha256(rlab.overlay("a")) == before, "preview touched the overlay"
    rlab.up()  # the replace was in the plan: the overlay is rebuilt on the new base
    assert image_info(rlab.overlay("a"))["backing-filename"] == str(base)
    rlab.assert_converged()


# --------------------------------------------------------------------------- disk full


@contextlib.contextmanager
def _small_filesystem(mountpoint: Path, image: Path) -> Iterator[Path]:
    """A 16 MiB ext4 (no reserved blocks) loop-mounted at ``mountpoint``."""
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        mountpoint.chmod(0o755)
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def _fill(directory: Path, leave_bytes: int) -> Path:
    """Fill the filesystem of ``directory`` until at most ``leave_bytes`` are free."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        chunk = b"\0" * 4096
        while True:
            stat = os.statvfs(directory)
            if stat.f_bavail * stat.f_frsize <= leave_bytes:
                break
            try:
                out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            except OSError:
                break
    return filler


def test_disk_full_while_writing_the_seed_or_the_overlay(rlab: RelLab) -> None:
    with _small_filesystem(rlab.images_dir, rlab.root / "small.ext4"):
        rlab.vm("keep", state="stopped")
        rlab.up()
        write_marker(rlab.overlay("keep"))
        keep_before = sha256(rlab.overlay("keep"))

        filler = _fill(rlab.images_dir, leave_bytes=64 * 1024)
        rlab.vm("seed", state="stopped", cloud_init_user_data="#cloud-config\n" + "#" * 100_000)
        rlab.vm("overlay", state="stopped")
        # Both wait a moment at their first step (the define), so both creates are under
        # way before the first failure stops the engine from starting new steps.
        result = rlab.faulty("sleep-before:define", raise_on_error=False).up()

        messages = [str(e) for e in result.errors]
        assert len(messages) == 2, messages
        for message in messages:
            assert "No space left on device" in message, message
        assert rlab.domain("seed") is None and rlab.domain("overlay") is None
        assert rlab.files() == {f"{rlab.name('keep')}.qcow2", "filler"}, "orphans or temps"
        assert sha256(rlab.overlay("keep")) == keep_before

        filler.unlink()  # the operator frees space
        rlab.up()

        assert has_marker(rlab.overlay("keep"))
        rlab.assert_converged()


# --------------------------------------------------------------------------- out-of-band edits


def test_domain_renamed_out_of_band_is_reported_and_converges(rlab: RelLab) -> None:
    """(undefine, overlay and ISO deletion, memory change: see tests/integration/test_diff.)"""
    rlab.vm("a", state="stopped", cloud_init_user_data="#cloud-config\n")
    rlab.up()
    write_marker(rlab.overlay("a"))
    uuid = rlab.domain("a").UUIDString()
    subprocess.run(
        ["virsh", "-q", "domrename", rlab.name("a"), rlab.name("renamed")],
        check=True,
        capture_output=True,
    )

    step = rlab.preview().step("a")
    assert step.op == "update", step.describe()
    rlab.up()

    assert rlab.domain("a") is not None
    assert rlab.domain("a").UUIDString() == uuid
    assert has_marker(rlab.overlay("a"))
    rlab.assert_converged()


# --------------------------------------------------------------------------- many at once


def test_twenty_vms_created_and_destroyed_concurrently_five_times(rlab: RelLab) -> None:
    """State ``defined`` (no qemu process) keeps it fast: the provider's work is the same."""
    for i in range(20):
        rlab.vm(f"m{i:02d}", state="defined", cloud_init_user_data=f"#cloud-config\n# {i}\n")
    for _round in range(5):
        up = rlab.harness(parallel=20).up()
        assert up.counts() == {"create": 20} and up.ok
        assert len(rlab.domains()) == 20
        assert rlab.files() == rlab.expected_files()
        down = rlab.harness(parallel=20).destroy()
        assert down.counts() == {"delete": 20} and down.ok
        rlab.assert_clean()
