"""Downloads are bounded and sources are regular files: a dripping server fails by the
overall deadline, a body or decompressed image beyond the size cap is stopped there (a
declared one refused before a byte is written), a FIFO source is refused at once, and a
presigned URL's credential never shows (errors, the digest record, files on the host) while
state keeps it secret. Each through the engine where the provider's own limits suffice;
where a test needs smaller limits than the provider's (a cap of 1 MiB, a deadline of
seconds for ``fetch_on="host"``, which has no declared size to derive one from, a connect
timeout of seconds for headers that drip), through
:func:`pulumi_vigo_vm.baseimage.place.ensure` against the same real host and server."""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from pulumi_vigo_vm.baseimage.limits import Limits
from pulumi_vigo_vm.baseimage.place import Context, ensure
from pulumi_vigo_vm.baseimage.spec import BaseImageSpec, FetchOn
from pulumi_vigo_vm.baseimage.urls import shown
from pulumi_vigo_vm.errors import ImageError
from pulumi_vigo_vm.virt.target import Target

from .bench import Bench, sha256
from .server import Route

pytestmark = pytest.mark.libvirt

BOUND_S = 60.0
"""Generous upper bound on how long a refusal or a deadline of a few seconds may take on a
loaded machine; the defects these tests guard against hang for minutes or forever."""
SIGNATURE = "f00dfacec0ffee5ec2e75a1g"
CLAIM = "organization/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoBaseImage::bounds"


def test_a_dripping_server_fails_by_the_deadline_and_leaves_nothing(bench: Bench) -> None:
    body = bytes(64)  # declared: the deadline is 3 s + 64 bytes at 128 KiB/s
    url = bench.server.serve("/img/slow.qcow2", Route("trickle", body=body, pause=1.0))
    bench.image("base", source=url, sha256=sha256(body))
    bench.config["vigo:downloadIdleTimeoutS"] = "3"  # each byte arrives well within it

    started = time.monotonic()
    error = bench.failing()

    assert time.monotonic() - started < BOUND_S
    assert f"source {url}: did not finish within 3s" in error, error
    assert "raise vigo:downloadIdleTimeoutS" in error  # the fix
    assert bench.files() == set()


def test_a_declared_size_beyond_the_cap_is_refused_before_anything_is_written(
    bench: Bench,
) -> None:
    url = bench.server.serve(
        "/img/huge.raw", Route("drip", body=bytes(64), pause=30, declared=300 << 30)
    )
    bench.image("base", source=url, sha256=sha256(b""))

    error = bench.failing()

    assert f"source {url}: declares {300 << 30} bytes, more than" in error, error
    assert "nothing was written" in error
    assert bench.files() == set()


@pytest.mark.parametrize("fetch_on", ["runner", "host"])
@pytest.mark.transport
def test_a_fifo_source_is_refused_at_once(bench: Bench, fetch_on: str) -> None:
    fifo = bench.root / "published" / "disk.raw"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    bench.image("base", source=fifo.as_uri(), sha256=sha256(b""), fetch_on=fetch_on)

    started = time.monotonic()
    error = bench.failing()

    assert time.monotonic() - started < BOUND_S
    assert f"source {fifo.as_uri()}: {fifo}" in error and "is not a regular file" in error, error
    assert bench.files() == set()


@pytest.mark.parametrize("fetch_on", ["runner", "host"])
@pytest.mark.transport
def test_a_presigned_url_never_shows_and_is_secret_in_state(
    bench: Bench, images: dict[str, bytes], fetch_on: str
) -> None:
    path = f"/bucket/base.qcow2?X-Amz-Credential=AKIA%2F20261207&X-Amz-Signature={SIGNATURE}"
    url = bench.server.serve(path, Route(body=images["a"]))
    bench.server.serve(path.replace("base.qcow2", "gone.qcow2"), Route("missing"))
    bench.image("base", source=url, sha256=sha256(images["b"]), fetch_on=fetch_on)

    mismatch = bench.failing()
    bench.image("base", source=url.replace("base.qcow2", "gone.qcow2"), sha256=sha256(b""))
    missing = bench.failing()
    bench.image("base", source=url, sha256=sha256(images["a"]), fetch_on=fetch_on)
    result = bench.up()

    for said in (mismatch, missing, result.program_output, result.summary()):
        assert SIGNATURE not in said and "AKIA" not in said, said
    assert shown(url) in mismatch  # the provider's own redaction, not the harness's mask
    assert "HTTP 404" in missing
    state = {res.name: res for res in bench.harness().snapshot().ordered()}["base"]
    assert "source" in state.secret_inputs and "source" in state.secret_outputs
    record = (bench.bases_dir / "base.qcow2.sha256").read_text()
    assert f" {shown(url)}\n" in record
    assert _files_holding(SIGNATURE, bench.root, but=bench.root / "state.json") == []


def _files_holding(text: str, root: Path, *, but: Path) -> list[Path]:
    """Every file under ``root`` (except ``but``) whose bytes contain ``text``."""
    return [
        path
        for path in _walk(root)
        if path != but and path.is_file() and text.encode() in path.read_bytes()
    ]


def _walk(root: Path) -> Iterator[Path]:
    for directory, _, names in os.walk(root):
        for name in names:
            yield Path(directory) / name


# -- limits smaller than the provider's: through place.ensure, on the same real host ---------


def _ensure(
    bench: Bench, uri: str, url: str, fetch_on: str, limits: Limits, idle_timeout: float = 20.0
) -> None:
    spec = BaseImageSpec(
        source=url,
        sha256=sha256(b"any"),
        path=str(bench.bases_dir / "capped.raw"),
        fetch_on=FetchOn(fetch_on),
        uri=uri,
        claim=CLAIM,
    )
    context = Context(idle_timeout, "VigoBaseImage bounds", print, limits)
    ensure(Target.for_uri(uri), spec, context, "0")


@pytest.mark.parametrize("fetch_on", ["runner", "host"])
@pytest.mark.parametrize(
    ("name", "route", "what"),
    [
        ("unsized.raw", Route("unsized", body=bytes(3 << 20)), "download"),
        ("declared.raw", Route(body=bytes(3 << 20)), "download"),
        ("bomb.raw.zst", Route(body=zstandard.ZstdCompressor().compress(bytes(3 << 20))), "image"),
        ("bomb.raw.gz", Route(body=zlib.compress(bytes(3 << 20), wbits=31)), "image"),
    ],
)
@pytest.mark.transport
def test_a_body_or_image_beyond_the_cap_is_stopped_there_and_leaves_nothing(
    bench: Bench, uri: str, fetch_on: str, name: str, route: Route, what: str
) -> None:
    url = bench.server.serve(f"/img/{name}", route)
    limits = Limits(max_bytes=1 << 20)

    with pytest.raises(ImageError, match=r"(goes beyond|declares \d+ bytes, more than)") as caught:
        _ensure(bench, uri, url, fetch_on, limits)

    assert "1048576 bytes" in str(caught.value)
    assert bench.files() == set()


def test_headers_that_drip_fail_by_the_deadline(bench: Bench, uri: str) -> None:
    """The headers' deadline is the connect timeout plus the idle timeout, however slowly
    they drip (the provider's: 30 s + vigo:downloadIdleTimeoutS); a connect timeout of 2 s
    and an idle timeout of 3 s make it 5 s here instead of waiting out 33 s."""
    url = bench.server.serve("/img/slow.qcow2", Route("slow-headers", pause=0.5))

    started = time.monotonic()
    with pytest.raises(ImageError) as caught:
        _ensure(bench, uri, url, "runner", Limits(connect_timeout_s=2), idle_timeout=3)

    assert time.monotonic() - started < BOUND_S
    error = str(caught.value)
    assert f"source {url}: did not finish within 5s" in error, error
    assert bench.files() == set()


@pytest.mark.transport
def test_the_hypervisor_download_has_an_overall_deadline(bench: Bench, uri: str) -> None:
    url = bench.server.serve("/img/slow.raw", Route("trickle", body=bytes(600), pause=0.5))

    started = time.monotonic()
    with pytest.raises(ImageError, match="Operation timed out") as caught:
        _ensure(bench, uri, url, "host", Limits(ceiling_s=3))

    assert time.monotonic() - started < BOUND_S
    assert url in str(caught.value)
    assert bench.files() == set()
