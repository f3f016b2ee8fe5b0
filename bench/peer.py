"""The peer: Debian's ``virt-install --import --cloud-init`` creating the same VMs.

One full (not ``--dry-run``) invocation per VM, as a user's loop would run it: it creates
the overlay through a libvirt storage pool (``backing_store=``), builds the cloud-init ISO
with xorriso, defines and starts the domain (``--noautoconsole``). virt-install always
starts the guest, so it is compared with the provider's ``running`` create only.
Over qemu+ssh the peer is not run (local only).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import libvirt

from .world import BRIDGE, MEMORY_MIB, USER_DATA, World


def _size_gib(base: Path) -> str:
    return "1"  # the base's virtual size (world.BASE_VIRTUAL)


def _ensure_pool(world: World, images: Path) -> None:
    """A transient dir pool for the images dir, so 4 concurrent virt-installs do not race
    to create it (created once per run, outside the timed region's per-VM work)."""
    name = images.name
    if name in world.conn.listStoragePools():
        return
    xml = f"<pool type='dir'><name>{name}</name><target><path>{images}</path></target></pool>"
    world.conn.storagePoolCreateXML(xml)


@contextlib.contextmanager
def boot_pool_guard(world: World) -> Iterator[None]:
    """virt-install registers /var/lib/libvirt/boot as pool "boot" for its cloud-init ISO;
    remove it afterwards if it did not exist before."""
    existed = "boot" in world.conn.listStoragePools() + world.conn.listDefinedStoragePools()
    if not existed:  # made up front: concurrent virt-installs race to define it otherwise
        xml = "<pool type='dir'><name>boot</name><target><path>/var/lib/libvirt/boot</path>"
        world.conn.storagePoolCreateXML(xml + "</target></pool>")
    try:
        yield
    finally:
        if not existed:
            with contextlib.suppress(libvirt.libvirtError):
                pool = world.conn.storagePoolLookupByName("boot")
                if pool.isActive():
                    pool.destroy()
                with contextlib.suppress(libvirt.libvirtError):  # transient: already gone
                    pool.undefine()


def create(world: World, tag: str, n: int) -> None:
    """``virt-install`` once per VM, one after the other (a user's shell loop).

    Concurrent virt-installs into one directory fail: libvirt refuses a volume creation
    while the pool "has asynchronous jobs running". So the peer runs sequentially, while
    the provider gets the engine's 4-way concurrency: keep that in mind reading subj/peer.
    """
    images = world.images_dir(tag)
    user_data = world.root / "user-data"
    user_data.write_text(USER_DATA)
    _ensure_pool(world, images)

    def one(name: str) -> None:
        disk = (
            f"path={images / (name + '.qcow2')},format=qcow2,bus=virtio,"
            f"backing_store={world.base},backing_format=qcow2,size={_size_gib(world.base)}"
        )
        argv = [
            "virt-install",
            f"--connect={world.uri}",
            f"--name={name}",
            f"--memory={MEMORY_MIB}",
            "--vcpus=1",
            "--virt-type=qemu",
            "--import",
            f"--disk={disk}",
            f"--cloud-init=user-data={user_data}",
            f"--network=bridge={BRIDGE},model=virtio",
            "--osinfo=detect=on,require=off",
            "--graphics=none",
            "--noautoconsole",
        ]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"virt-install {name} failed: {proc.stderr.strip()}")

    for name in world.names(tag, n):
        one(name)
