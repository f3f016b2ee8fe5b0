"""Downloads: plain and compressed sources, a redirect, and every failure leaving nothing."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat

import pytest
import zstandard

from .bench import Bench, sha256
from .server import Route

pytestmark = pytest.mark.libvirt

COMPRESS = {
    "xz": lzma.compress,
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.transport
def test_plain_up_places_the_verified_image_and_a_second_up_downloads_nothing(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url = bench.server.serve("/img/debian.qcow2", Route(body=images["a"]))
    bench.image("base", source=url, sha256=sha256(images["a"]))

    result = bench.up()

    path = bench.bases_dir / "debian.qcow2"
    assert result.ops() == {"base": "create"}
    assert path.read_bytes() == images["a"]
    st = path.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert result.outputs["base"] == {
        "path": str(path),
        "format": "qcow2",
        "size_bytes": len(images["a"]),
        "virtual_size_bytes": 16 << 20,
        "sha256": sha256(images["a"]),
    }
    assert bench.files() == {"debian.qcow2", "debian.qcow2.claim", "debian.qcow2.sha256"}
    assert bench.server.hits["/img/debian.qcow2"] == 1

    again = bench.up()

    assert again.ops() == {"base": "same"}
    assert bench.server.hits["/img/debian.qcow2"] == 1  # nothing downloaded
    assert bench.harness().preview().ops() == {"base": "same"}

    bench.harness().destroy()

    assert bench.files() == set()


@pytest.mark.parametrize("compression", sorted(COMPRESS))
def test_compressed_sources_are_verified_as_published_and_stored_decompressed(
    bench: Bench, images: dict[str, bytes], compression: str
) -> None:
    packed = COMPRESS[compression](images["a"])
    url = bench.server.serve(f"/img/jammy.img.{compression}", Route(body=packed))
    bench.image("base", source=url, sha256=sha256(packed))

    bench.up()

    assert (bench.bases_dir / "jammy.img").read_bytes() == images["a"]
    record = (bench.bases_dir / "jammy.img.sha256").read_text()
    assert record.startswith(f"{sha256(images['a'])}  jammy.img\n")
    assert f"# published {sha256(packed)} {url}" in record


def test_a_redirect_is_followed(bench: Bench, images: dict[str, bytes]) -> None:
    bench.server.serve("/real/base.qcow2", Route(body=images["a"]))
    url = bench.server.serve("/moved/base.qcow2", Route("redirect", target="/real/base.qcow2"))
    bench.image("base", source=url, sha256=sha256(images["a"]))

    bench.up()

    assert (bench.bases_dir / "base.qcow2").read_bytes() == images["a"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("truncate", "broke off"),
        ("drip", "no data for 3s (vigo:downloadIdleTimeoutS)"),
        ("missing", "HTTP 404"),
        ("wrong-digest", "not the declared"),
    ],
)
def test_a_failed_download_leaves_nothing(
    bench: Bench, images: dict[str, bytes], route: str, message: str
) -> None:
    body = images["a"]
    digest = sha256(body)
    if route == "wrong-digest":
        digest = sha256(images["b"])
        served = Route(body=body)
    else:
        served = Route(route, body=body, pause=10)  # type: ignore[arg-type]
    url = bench.server.serve("/img/base.qcow2", served)
    bench.image("base", source=url, sha256=digest)
    bench.config["vigo:downloadIdleTimeoutS"] = "3"

    error = bench.failing()

    assert message in error
    assert url in error
    assert bench.files() == set()  # no file, no temporary, no sidecar
    assert all(res.name != "base" for res in bench.harness().snapshot().ordered())


def test_a_file_source_is_read_on_the_runner(bench: Bench, images: dict[str, bytes]) -> None:
    source = bench.root / "published" / "local.qcow2.gz"
    source.parent.mkdir()
    source.write_bytes(gzip.compress(images["a"]))
    bench.image("base", source=source.as_uri(), sha256=sha256(source.read_bytes()))

    bench.up()

    assert (bench.bases_dir / "local.qcow2").read_bytes() == images["a"]


@pytest.mark.transport
def test_owner_group_mode_and_path_are_applied(bench: Bench, images: dict[str, bytes]) -> None:
    url = bench.server.serve("/img/x.qcow2", Route(body=images["a"]))
    path = bench.root / "elsewhere" / "ubuntu-22.04-base.img"
    bench.image(
        "base", source=url, sha256=sha256(images["a"]), path=str(path), owner="nobody",
        group="nogroup", mode="0640",
    )  # fmt: skip

    bench.up()

    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (_uid("nobody"), _gid("nogroup"))


@pytest.mark.transport
def test_an_unknown_owner_is_refused_before_anything_is_downloaded(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url = bench.server.serve("/img/x.qcow2", Route(body=images["a"]))
    bench.image("base", source=url, sha256=sha256(images["a"]), owner="no-such-user-here")

    error = bench.failing()

    assert "owner: 'no-such-user-here' does not exist" in error
    assert bench.server.hits["/img/x.qcow2"] == 0
    assert bench.files() == set()


def _uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid


def _gid(name: str) -> int:
    import grp

    return grp.getgrnam(name).gr_gid


def test_temporaries_left_by_a_killed_download_are_swept(
    bench: Bench, images: dict[str, bytes]
) -> None:
    url = bench.server.serve("/img/base.qcow2", Route(body=images["a"]))
    bench.image("base", source=url, sha256=sha256(images["a"]))
    bench.bases_dir.mkdir(parents=True)
    stale = bench.bases_dir / ".base.qcow2.0123456789ab.tmp"
    nested = bench.bases_dir / "..base.qcow2.0123456789ab.tmp.ba9876543210.tmp"
    fresh = bench.bases_dir / ".base.qcow2.fedcba987654.tmp"
    other = bench.bases_dir / ".unrelated.0123456789ab.tmp"
    for leftover in (stale, nested, fresh, other):
        leftover.write_bytes(b"half a download")
    for old in (stale, nested, other):
        os.utime(old, (0, 0))

    bench.up()

    assert not stale.exists() and not nested.exists()
    assert fresh.exists()  # may be a live download of another run
    assert other.exists()  # not ours by name
