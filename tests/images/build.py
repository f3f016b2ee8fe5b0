#!/usr/bin/env python3
"""Build (or reuse) a small bootable Debian 12 test image with cloud-init.

The image is a compressed qcow2 with two MBR partitions: an EFI System Partition (FAT)
holding a standalone GRUB at the removable-media path ``/EFI/BOOT/BOOTX64.EFI``, and the
active ext4 root with extlinux; so it boots by BIOS (mbr.bin -> extlinux) and by UEFI
(OVMF -> GRUB), both reading the same kernel from the root. With Debian's cloud kernel,
systemd, cloud-init (NoCloud datasource first), growpart, the qemu guest agent and a
serial console on ttyS0. It is built from Debian
packages only (mmdebstrap), so our end-to-end tests can boot a real guest under software
emulation (TCG) and read its serial console.

Images are cached in ``$VIGO_TEST_IMAGE_CACHE`` (default
``~/.cache/pulumi-vigo-vm/images``), named by a hash of the recipe: the recipe (this
file) changing makes a new image; an unchanged one is returned at once. A build runs
in a temporary directory beside the cache and is renamed into place at the end, under
a file lock, so concurrent callers build once. Needs root and the host packages listed
in ``host-packages.txt``.

Usage::

    python tests/images/build.py [--cache-dir DIR] [--force]

Progress goes to stderr; the image path is the last line on stdout. From Python,
``ensure_image()`` returns the path.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "KERNEL_CMDLINE_TAIL",
    "cache_dir_default",
    "ensure_image",
    "image_path",
    "main",
    "recipe_key",
]

CACHE_ENV = "VIGO_TEST_IMAGE_CACHE"
"""Environment variable that overrides the cache directory."""

MIRROR_ENV = "VIGO_DEBIAN_MIRROR"
"""Optional Debian mirror URI for mmdebstrap; mmdebstrap's default mirror otherwise."""

SUITE = "bookworm"
DISK_SIZE_MIB = 2048
ESP_START_MIB = 1
ESP_SIZE_MIB = 31
PART_START_MIB = ESP_START_MIB + ESP_SIZE_MIB

GUEST_PACKAGES = (
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "systemd-sysv",
    "udev",
    "dbus",
    "cloud-init",
    "cloud-guest-utils",  # growpart
    "fdisk",  # sfdisk, used by growpart on MBR disks
    "e2fsprogs",  # resize2fs
    "iproute2",  # cloud-init's networkd renderer needs `ip`
    # Answers guest-ping and guest-network-get-interfaces on the virtio-serial channel
    # org.qemu.guest_agent.0. Its unit has no [Install]: udev starts it (SYSTEMD_WANTS in
    # 60-qemu-guest-agent.rules) when that port appears, so a domain without the channel
    # boots as before and nothing waits for it.
    "qemu-guest-agent",
)

AGENT_FILES = (
    "lib/systemd/system/qemu-guest-agent.service",
    "lib/udev/rules.d/60-qemu-guest-agent.rules",
    "usr/sbin/qemu-ga",
)
"""What the agent needs in the root; checked after the bootstrap."""

INITRAMFS_MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "virtio_net",
    "sd_mod",
    "sr_mod",
    "cdrom",
    "isofs",
    "ext4",
)

KERNEL_CMDLINE_TAIL = "console=tty0 console=ttyS0,115200"
"""Must end the kernel command line: the last ``console=`` is /dev/console, where
systemd and cloud-init write, so ttyS0 has to be last."""

# Files written into the guest root, relative paths. {root_uuid} is substituted.
GUEST_FILES: dict[str, str] = {
    "etc/fstab": "UUID={root_uuid} / ext4 defaults,errors=remount-ro 0 1\n",
    "etc/hostname": "debian\n",
    "etc/hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
    "etc/initramfs-tools/modules": "\n".join(INITRAMFS_MODULES) + "\n",
    # Only the listed modules (plus what root needs): a small initramfs boots faster
    # under TCG; gzip because zstd is not installed without recommends.
    "etc/initramfs-tools/conf.d/vigo.conf": "MODULES=list\nCOMPRESS=gzip\n",
    "etc/cloud/cloud.cfg.d/90-vigo-datasource.cfg": (
        "# Written by tests/images/build.py: NoCloud seed ISO (label cidata) only.\n"
        "datasource_list: [NoCloud, None]\n"
        "# No locales or sshd in the image: skip what would only fail or cost time.\n"
        "locale: false\n"
        "ssh_genkeytypes: []\n"
    ),
    # systemd-networkd does DHCP on whatever NIC exists (cloud-init renders its
    # fallback config for it); never hold the boot for a link that is absent.
    "etc/systemd/system/systemd-networkd-wait-online.service.d/vigo.conf": (
        "[Service]\nExecStart=\n"
        "ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=10\n"
    ),
    "etc/systemd/journald.conf.d/vigo.conf": "[Journal]\nStorage=volatile\n",
    # With default dependencies the agent waits for basic.target, which waits (through
    # sysinit.target) for cloud-init's network stage: ~10 s after the DHCP lease under
    # TCG. It needs only its port and the root filesystem, so start it as soon as udev
    # has the port.
    "etc/systemd/system/qemu-guest-agent.service.d/vigo.conf": (
        "[Unit]\nDefaultDependencies=no\nAfter=local-fs.target\n"
        "Conflicts=shutdown.target\nBefore=shutdown.target\n"
    ),
}

# Run in the chroot after the packages are installed.
CHROOT_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("systemctl", "enable", "systemd-networkd.service"),
    ("systemctl", "mask", "apt-daily.timer", "apt-daily-upgrade.timer"),
    ("passwd", "--lock", "root"),
    ("update-initramfs", "-u", "-k", "all"),
    ("apt-get", "clean"),
)

EXTLINUX_CONF = """\
DEFAULT linux
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL linux
  LINUX /boot/{vmlinuz}
  INITRD /boot/{initrd}
  APPEND root=UUID={root_uuid} ro rootwait {cmdline_tail}
"""

MBR_CANDIDATES = ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/lib/EXTLINUX/mbr.bin")

# GRUB's configuration, built into its EFI image: no grub.cfg to find, no menu, the same
# kernel, initramfs and command line as extlinux's.
GRUB_EMBEDDED_CFG = """\
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
search --no-floppy --fs-uuid --set=root {root_uuid}
linux /boot/{vmlinuz} root=UUID={root_uuid} ro rootwait {cmdline_tail}
initrd /boot/{initrd}
boot
"""
GRUB_MODULES = (
    "part_msdos", "fat", "ext2", "normal", "linux", "search", "search_fs_uuid",
    "serial", "terminal", "echo", "gzio",
)  # fmt: skip


def log(message: str) -> None:
    """Print a progress line to stderr."""
    print(f"[test-image] {message}", file=sys.stderr, flush=True)


def run(argv: Sequence[str | os.PathLike[str]], input: bytes | None = None) -> None:
    """Run a command, echoing it, with ``input`` (or nothing) on stdin; raise on failure."""
    args = [os.fspath(a) for a in argv]
    log("$ " + " ".join(args))
    if input is None:
        subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    else:
        subprocess.run(args, check=True, input=input)


def output(argv: Sequence[str | os.PathLike[str]]) -> str:
    """Run a command and return its stdout."""
    args = [os.fspath(a) for a in argv]
    return subprocess.run(
        args, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True
    ).stdout


def recipe_key() -> str:
    """Return a short hash of the recipe: this file's bytes."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def cache_dir_default() -> Path:
    """The cache directory: ``$VIGO_TEST_IMAGE_CACHE`` or ``~/.cache/pulumi-vigo-vm/images``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "pulumi-vigo-vm" / "images"


def image_path(cache_dir: Path | None = None) -> Path:
    """Where the image for the current recipe lives (whether or not it exists yet)."""
    directory = cache_dir if cache_dir is not None else cache_dir_default()
    return directory / f"debian-12-cloudinit-{recipe_key()}.qcow2"


def ensure_image(cache_dir: Path | None = None, force: bool = False) -> Path:
    """Return the cached image for the current recipe, building it first if missing.

    Creates the cache directory and, while building, a temporary directory, a loop
    device and a mount, all removed before returning or raising. Raises
    ``subprocess.CalledProcessError`` when a build step fails.
    """
    target = image_path(cache_dir)
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_suffix(".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and not force:
            return target  # another process built it while we waited
        started = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
        try:
            os.replace(_build(workdir), target)
        finally:
            # Never rmtree through a mount left behind (mmdebstrap mounts /proc, /sys
            # and /dev in the root while it runs).
            _unmount_below(workdir)
            shutil.rmtree(workdir)
        log(f"built {target} in {time.monotonic() - started:.0f} s")
    return target


def _build(workdir: Path) -> Path:
    """Build the image inside ``workdir``; return the finished qcow2's path there."""
    rootfs = workdir / "rootfs"
    root_uuid = str(uuid.uuid4())
    _bootstrap(rootfs, root_uuid)
    _check_rootfs(rootfs)
    raw = workdir / "disk.raw"
    _make_disk(raw, rootfs, root_uuid)
    shutil.rmtree(rootfs)
    qcow2 = workdir / "image.qcow2"
    log("compressing to qcow2")
    run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, qcow2])
    raw.unlink()
    return qcow2


def _bootstrap(rootfs: Path, root_uuid: str) -> None:
    """Install the guest's packages into ``rootfs`` and configure it."""
    log(f"bootstrapping Debian {SUITE} into {rootfs}")
    # mmdebstrap runs hooks with the root as "$1"; customize hooks run after the
    # packages are installed (and after mmdebstrap wrote its own /etc/hostname).
    hooks: list[str] = []
    for rel, text in GUEST_FILES.items():
        content = text.format(root_uuid=root_uuid)
        quoted = content.replace("'", "'\\''")
        hooks.append(f'mkdir -p "$(dirname "$1/{rel}")" && printf %s \'{quoted}\' > "$1/{rel}"')
    hooks += ['chroot "$1" ' + " ".join(command) for command in CHROOT_COMMANDS]
    argv: list[str] = [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        "--format=directory",
        "--aptopt=APT::Install-Recommends false",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-include=/usr/share/locale/locale.alias",
        "--include=" + ",".join(GUEST_PACKAGES),
        *(f"--customize-hook={hook}" for hook in hooks),
        SUITE,
        str(rootfs),
    ]
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        argv.append(mirror)
    run(argv)


def _check_rootfs(rootfs: Path) -> None:
    """Fail the build if the guest agent could not start at boot in this root."""
    missing = [rel for rel in AGENT_FILES if not (rootfs / rel).exists()]
    if missing:
        raise RuntimeError(f"qemu-guest-agent files missing in {rootfs}: {missing}")
    rule = (rootfs / AGENT_FILES[1]).read_text()
    if "qemu-guest-agent.service" not in rule:
        raise RuntimeError(f"{AGENT_FILES[1]} no longer starts qemu-guest-agent.service")
    # The agent's port is a virtio-serial port: the kernel needs virtio_console.
    configs = list((rootfs / "boot").glob("config-*"))
    if not configs or not any(
        line in ("CONFIG_VIRTIO_CONSOLE=y", "CONFIG_VIRTIO_CONSOLE=m")
        for line in configs[0].read_text().splitlines()
    ):
        raise RuntimeError(f"the kernel in {rootfs / 'boot'} has no CONFIG_VIRTIO_CONSOLE")


def _kernel_files(rootfs: Path) -> tuple[str, str]:
    """Return the file names of the installed kernel and its initramfs under /boot."""
    kernels = sorted(p.name for p in (rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise RuntimeError(f"expected one kernel in {rootfs / 'boot'}, found {kernels}")
    version = kernels[0].removeprefix("vmlinuz-")
    initrd = f"initrd.img-{version}"
    if not (rootfs / "boot" / initrd).exists():
        raise RuntimeError(f"initramfs {initrd} missing in {rootfs / 'boot'}")
    return kernels[0], initrd


def _make_disk(raw: Path, rootfs: Path, root_uuid: str) -> None:
    """Lay ``rootfs`` onto a raw MBR disk with one ext4 partition and install extlinux."""
    vmlinuz, initrd = _kernel_files(rootfs)
    conf = rootfs / "boot" / "extlinux" / "extlinux.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        EXTLINUX_CONF.format(
            vmlinuz=vmlinuz,
            initrd=initrd,
            root_uuid=root_uuid,
            cmdline_tail=KERNEL_CMDLINE_TAIL,
        )
    )
    log(f"creating a {DISK_SIZE_MIB} MiB disk")
    with open(raw, "wb") as f:
        f.truncate(DISK_SIZE_MIB * 1024 * 1024)
    layout = (
        f"start={ESP_START_MIB}MiB, size={ESP_SIZE_MIB}MiB, type=ef\n"
        f"start={PART_START_MIB}MiB, type=83, bootable\n"
    )
    run(["sfdisk", "--quiet", raw], input=layout.encode())
    _write_esp(raw, raw.parent / "esp", vmlinuz, initrd, root_uuid)
    offset = PART_START_MIB * 1024 * 1024
    part_kib = (DISK_SIZE_MIB - PART_START_MIB) * 1024
    # extlinux reads ext4 but not every newer feature: keep the layout conservative.
    run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L", "root",
            "-U", root_uuid,
            "-m", "1",
            "-O", "^64bit,^metadata_csum,^metadata_csum_seed,^orphan_file",
            "-E", f"offset={offset}",
            "-d", rootfs,
            raw,
            f"{part_kib}k",
        ]
    )  # fmt: skip
    mbr = next((Path(p) for p in MBR_CANDIDATES if Path(p).exists()), None)
    if mbr is None:
        raise RuntimeError(f"no syslinux mbr.bin in {MBR_CANDIDATES}: install syslinux-common")
    with open(raw, "r+b") as disk:
        disk.write(mbr.read_bytes()[:440])
    # extlinux warns that a loop device has no geometry; harmless: mbr.bin hands the
    # partition's start to the boot sector, so the offset it records does not matter.
    with _loop_mount(raw, offset, part_kib * 1024) as mnt:
        run(["extlinux", "--install", mnt / "boot" / "extlinux"])


def _write_esp(raw: Path, workdir: Path, vmlinuz: str, initrd: str, root_uuid: str) -> None:
    """Make the FAT EFI System Partition with GRUB at the removable-media path, and lay it
    into ``raw`` at its partition (mtools: no mount needed)."""
    workdir.mkdir()
    config = workdir / "embedded.cfg"
    config.write_text(
        GRUB_EMBEDDED_CFG.format(
            root_uuid=root_uuid, vmlinuz=vmlinuz, initrd=initrd, cmdline_tail=KERNEL_CMDLINE_TAIL
        )
    )
    grub = workdir / "BOOTX64.EFI"
    run(["grub-mkimage", "-O", "x86_64-efi", "-o", grub, "-p", "/EFI/BOOT", "-c", config,
         *GRUB_MODULES])  # fmt: skip
    esp = workdir / "esp.img"
    run(["mkfs.fat", "-F", "16", "-n", "ESP", "-C", esp, str(ESP_SIZE_MIB * 1024)])
    mtools = ["env", "MTOOLS_SKIP_CHECK=1"]  # mtools frowns on a geometry-less image file
    run([*mtools, "mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"])
    run([*mtools, "mcopy", "-i", esp, grub, "::/EFI/BOOT/BOOTX64.EFI"])
    with open(raw, "r+b") as disk:
        disk.seek(ESP_START_MIB * 1024 * 1024)
        disk.write(esp.read_bytes())
    shutil.rmtree(workdir)


@contextlib.contextmanager
def _loop_mount(image: Path, offset: int, size: int) -> Iterator[Path]:
    """Attach ``size`` bytes of ``image`` at ``offset`` to a loop device and mount it.

    The mount and the loop device are removed on exit, also when the body raises.
    """
    device = output(
        ["losetup", "--find", "--show", f"--offset={offset}", f"--sizelimit={size}", image]
    ).strip()
    log(f"attached {device}")
    try:
        with tempfile.TemporaryDirectory(prefix="mnt-", dir=image.parent) as mnt:
            run(["mount", "-t", "ext4", device, mnt])
            try:
                yield Path(mnt)
            finally:
                run(["umount", mnt])
    finally:
        run(["losetup", "--detach", device])


def _mounts_below(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, in the order they were mounted."""
    prefix = os.path.realpath(directory)
    mounts: list[str] = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            # Field 5 is the mount point, with spaces etc. escaped as octal.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    return mounts


def _unmount_below(directory: Path) -> None:
    """Unmount everything mounted at or below ``directory``, newest first."""
    for _ in range(100):
        mounts = _mounts_below(directory)
        if not mounts:
            return
        log(f"unmounting leftover {mounts[-1]}")
        run(["umount", "--lazy", mounts[-1]])
    raise RuntimeError(f"could not unmount everything below {directory}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: build or reuse the image and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"where images are kept (default: ${CACHE_ENV} or ~/.cache/pulumi-vigo-vm/images)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 and (args.force or not image_path(args.cache_dir).exists()):
        parser.error("building needs root (mmdebstrap, loop devices, mount)")
    path = ensure_image(args.cache_dir, force=args.force)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
