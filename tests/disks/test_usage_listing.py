"""usage.host_usage against a real libvirtd: the listing sees disks of domains the package
never made, a running domain's live-only disk, and the members of a disk's backing chain."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libvirt
import pytest
from support.disks import SPELLINGS, another_name, qemu_img

from pulumi_vigo_vm.hostfile.usage import (
    MAX_CHAIN_DEPTH,
    DiskUse,
    backing_chain,
    forget,
    host_usage,
    note_defined,
    note_undefined,
)
from pulumi_vigo_vm.hosts.base import Inode
from pulumi_vigo_vm.virt.target import Target

from .disklab import DiskLab

pytestmark = pytest.mark.libvirt


def _inode(path: Path) -> Inode:
    st = path.stat()
    return Inode(st.st_dev, st.st_ino)


@pytest.mark.transport
def test_the_listing_sees_foreign_live_and_backing_chain_uses(disks: DiskLab) -> None:
    root = disks.lab.root
    base, overlay, hot = root / "base.qcow2", root / "top.qcow2", root / "hot.raw"
    qemu_img("create", "-q", "-f", "qcow2", str(base), "64M")
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay))
    qemu_img("create", "-q", "-f", "raw", str(hot), "16M")
    domain = disks.foreign_domain("f", [(overlay, "qcow2")], running=True)
    name = domain.name()
    hot_xml = (
        f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{hot}'/><target dev='vdz' bus='virtio'/></disk>"
    )
    domain.attachDeviceFlags(hot_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)  # not persistent

    usage = host_usage(Target.for_uri(disks.lab.uri), fresh=True)

    assert usage.users(str(overlay)) == (DiskUse(name, str(overlay), True, True, True, ""),)
    assert usage.users(str(base)) == (DiskUse(name, str(base), False, True, False, ""),)
    assert usage.users(str(hot)) == (DiskUse(name, str(hot), True, True, True, ""),)
    assert [u.file for u in usage.users(str(base))] == [_inode(base)]
    assert usage.domains_using(str(root / "nothing.qcow2")) == ()


@pytest.mark.transport
def test_a_stopped_domains_persistent_disks_count_and_the_listing_is_kept(
    disks: DiskLab,
) -> None:
    target = Target.for_uri(disks.lab.uri)
    data = disks.lab.root / "data.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(data), "16M")
    domain = disks.foreign_domain("g", [(data, "qcow2")])

    fresh = host_usage(target, fresh=True)
    assert fresh.users(str(data)) == (DiskUse(domain.name(), str(data), True, False, True, ""),)
    assert host_usage(target) is fresh  # one listing per host per run

    note_undefined(disks.lab.uri, domain.name())
    assert host_usage(target).domains_using(str(data)) == ()
    note_defined(disks.lab.uri, domain.name(), domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert host_usage(target).domains_using(str(data)) == (domain.name(),)


@pytest.mark.transport
def test_backing_chains_are_read_from_headers_bounded_and_never_block(disks: DiskLab) -> None:
    host = Target.for_uri(disks.lab.uri).host
    root = disks.lab.root
    base, mid, top = root / "base.raw", root / "mid.qcow2", root / "top.qcow2"
    qemu_img("create", "-q", "-f", "raw", str(base), "1M")
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(mid))
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "mid.qcow2", str(top))
    assert backing_chain(host, str(top), "qcow2") == (str(mid), str(base))  # relative, too
    assert backing_chain(host, str(top), "raw") == ()  # declared raw: its bytes are data

    fifo = root / "fifo"
    os.mkfifo(fifo)
    qemu_img(
        "create", "-q", "-f", "qcow2", "-F", "qcow2", "-u", "-b", str(fifo), str(root / "f"), "1M"
    )
    assert backing_chain(host, str(root / "f"), "qcow2") == (str(fifo),)  # named, never read

    loop_a, loop_b = root / "a.qcow2", root / "b.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(loop_a), "1M")
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(loop_a), str(loop_b))
    qemu_img("rebase", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b", str(loop_b), str(loop_a))
    assert backing_chain(host, str(loop_b), "qcow2") == (str(loop_a),)
    assert len(backing_chain(host, str(loop_a), None)) <= MAX_CHAIN_DEPTH


def test_resources_asking_at_once_share_one_listing(disks: DiskLab) -> None:
    target = Target.for_uri(disks.lab.uri)
    forget(disks.lab.uri)
    with ThreadPoolExecutor(8) as pool:
        listings = list(pool.map(lambda _: host_usage(target), range(16)))
    assert all(listing is listings[0] for listing in listings)


@pytest.mark.parametrize("how", SPELLINGS)
@pytest.mark.transport
def test_every_name_of_a_file_and_of_a_backing_file_is_a_use_of_it(
    disks: DiskLab, how: str
) -> None:
    (disks.lab.root / "d").mkdir()
    data, base = disks.lab.root / "d" / "data.raw", disks.lab.root / "d" / "base.qcow2"
    top = disks.lab.root / f"top-{how}.qcow2"
    qemu_img("create", "-q", "-f", "raw", str(data), "1M")
    qemu_img("create", "-q", "-f", "qcow2", str(base), "1M")
    backing = another_name(disks.lab.root, base, how)
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, str(top))
    gone = disks.lab.root / "d" / "gone.raw"
    domain = disks.foreign_domain(
        "f", [(another_name(disks.lab.root, data, how), "raw"), (top, "qcow2"), (gone, "raw")]
    )

    usage = host_usage(Target.for_uri(disks.lab.uri), fresh=True)

    assert usage.domains_using(str(data)) == (domain.name(),)
    assert [(u.writable, u.direct) for u in usage.users(str(base))] == [(False, False)]
    assert usage.domains_using(f"{disks.lab.root}/d/../d/gone.raw") == (domain.name(),)


@pytest.mark.transport
def test_a_host_identifies_a_file_by_device_and_inode_and_falls_back_to_its_real_path(
    disks: DiskLab,
) -> None:
    host = Target.for_uri(disks.lab.uri).host
    data = disks.lab.root / "data.raw"
    qemu_img("create", "-q", "-f", "raw", str(data), "1M")
    names = [str(data), *(another_name(disks.lab.root, data, how) for how in SPELLINGS)]
    odd = disks.lab.root / "odd\nname"  # a name stat's one-line records cannot carry
    odd.symlink_to(data)

    found = host.file_ids([*names, str(odd), str(disks.lab.root / "gone")])

    assert [found[name] for name in names] == [_inode(data)] * len(names)
    over_ssh = disks.lab.uri.startswith("qemu+ssh")
    assert found[str(odd)] == (str(data) if over_ssh else _inode(data))  # SSH: SFTP's realpath
    assert str(disks.lab.root / "gone") not in found


@pytest.mark.transport
def test_many_long_names_are_all_identified_however_the_host_batches_them(
    disks: DiskLab,
) -> None:
    host = Target.for_uri(disks.lab.uri).host
    data = disks.lab.root / "data.raw"
    qemu_img("create", "-q", "-f", "raw", str(data), "1M")
    names = []
    for index in range(300):  # ~75 KiB of names: more than one SSH command's worth
        name = disks.lab.root / f"{index:03d}-{'n' * 240}"
        name.symlink_to(data)
        names.append(str(name))

    assert set(host.file_ids(names).values()) == {_inode(data)}
    assert len(host.file_ids(names)) == len(names)
