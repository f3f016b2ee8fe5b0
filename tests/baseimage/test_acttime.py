"""Act-time checks, cleanup of what this run made only, and side files, for VigoBaseImage
against a real libvirtd and real files: what happens on the host during a download (the
127.0.0.1 server calls back between the two halves of the body) is seen at the act."""

from __future__ import annotations

import pytest

from pulumi_vigo_vm.baseimage.record import decode

from .bench import Bench, sha256
from .server import Route

pytestmark = pytest.mark.libvirt

OPERATORS = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  base.qcow2\n"
"""An operator's own ``sha256sum base.qcow2 > base.qcow2.sha256``: not a record of ours."""


@pytest.mark.transport
def test_a_domain_defined_during_the_download_is_refused_at_the_rename_naming_it(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url_a = bench.server.serve("/a/base.qcow2", Route(body=images["a"]))
    path = bench.bases_dir / "shared.qcow2"
    bench.image("base", source=url_a, sha256=sha256(images["a"]), path=str(path))
    bench.up()
    late = bench.server.serve(
        "/b/base.qcow2",
        Route(body=images["b"], midway=lambda: bench.plain_domain("late", path)),
    )
    bench.image("base", source=late, sha256=sha256(images["b"]), path=str(path))

    error = bench.failing()

    assert bench.server.hits["/b/base.qcow2"] == 1, "free before the download: it ran"
    assert f"{path} is in use by {bench.lab.name('late')}" in error
    assert path.read_bytes() == images["a"], "the late domain's base was not swapped"
    record = decode((bench.bases_dir / "shared.qcow2.sha256").read_bytes())
    assert record is not None and record[1].published == sha256(images["a"])
    assert bench.files() == {"shared.qcow2", "shared.qcow2.claim", "shared.qcow2.sha256"}


def test_a_file_that_appears_at_the_path_during_the_download_survives_the_failed_create(
    bench: Bench, images: dict[str, bytes]
) -> None:
    theirs = bench.bases_dir / "base.qcow2"
    url = bench.server.serve(
        "/a/base.qcow2", Route(body=images["a"], midway=lambda: theirs.write_bytes(b"theirs"))
    )
    bench.image("base", source=url, sha256=sha256(images["a"]))

    error = bench.failing()

    assert f"{theirs} appeared while it was being created" in error and "left alone" in error
    assert theirs.read_bytes() == b"theirs"
    assert bench.files() == {"base.qcow2"}, "our claim is gone: it is not taken for ours"


def test_an_operators_checksum_file_survives_create_and_destroy(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url = bench.server.serve("/a/base.qcow2", Route(body=images["a"]))
    bench.bases_dir.mkdir(parents=True)
    record = bench.bases_dir / "base.qcow2.sha256"
    record.write_bytes(OPERATORS)
    bench.image("base", source=url, sha256=sha256(images["a"]))

    error = bench.failing()

    assert f"{record} exists and is not a file of ours" in error and "left alone" in error
    assert bench.server.hits["/a/base.qcow2"] == 0, "refused before the download"
    assert record.read_bytes() == OPERATORS
    assert bench.files() == {"base.qcow2.sha256"}

    record.unlink()
    bench.up()
    record.write_bytes(OPERATORS)  # the operator writes their own over ours
    bench.harness().destroy()

    assert record.read_bytes() == OPERATORS
    assert bench.files() == {"base.qcow2.sha256"}, "the base and its claim are gone"
