"""A VigoBaseImage's file is what later VMs boot from: a VM may read it as a data disk, never
write it. Against a real libvirtd, real files and a 127.0.0.1 server, through the engine."""

from __future__ import annotations

import pytest

from .bench import Bench, sha256
from .server import Route

pytestmark = pytest.mark.libvirt


def test_a_base_images_file_is_refused_as_a_writable_data_disk_and_accepted_readonly(
    bench: Bench, images: dict[str, bytes]
) -> None:
    boot = bench.server.serve("/boot/boot.qcow2", Route(body=images["a"]))
    shared = bench.server.serve("/shared/shared.qcow2", Route(body=images["b"]))
    bench.image("boot", source=boot, sha256=sha256(images["a"]))
    bench.image("shared", source=shared, sha256=sha256(images["b"]))
    bench.up()
    base = bench.bases_dir / "shared.qcow2"
    claim = (bench.bases_dir / "shared.qcow2.claim").read_text().strip()

    bench.vm("vm", base="boot", data_disks=[{"path": str(base)}])
    error = bench.failing()

    assert f"data_disks[0] {base} is the file of another resource ({claim})" in error
    assert "readonly=True" in error, "the error names the fix"
    assert bench.lab.domain("vm") is None, "nothing is defined for a refused VM"
    assert base.read_bytes() == images["b"]

    bench.vm("vm", base="boot", data_disks=[{"path": str(base), "readonly": True}])
    bench.up()

    assert bench.lab.domain("vm") is not None
    # The VM names the base by a literal path, not the image's output, so the engine does not
    # order their deletes: the VM leaves the program first, then the base is free to go.
    del bench.vms["vm"]
    bench.up()
    assert bench.lab.domain("vm") is None
    bench.harness().destroy()
    assert not base.exists()
