"""VigoBaseImage's pure parts: input validation and defaults, what a change does, streaming
decompression (concatenated streams, truncation), progress lines, the digest record."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.baseimage.decompress import decompressed
from pulumi_vigo_vm.baseimage.provider import _idle_timeout
from pulumi_vigo_vm.baseimage.record import Record, decode, encode, is_ours
from pulumi_vigo_vm.baseimage.spec import (
    REPLACING_INPUTS,
    FetchOn,
    changed_inputs,
    check_inputs,
    default_path,
    parse_spec,
)
from pulumi_vigo_vm.common.progress import Progress
from pulumi_vigo_vm.errors import ImageError, InputError
from pulumi_vigo_vm.spec import ProviderDefaults

DIGEST = "ab" * 32
DEFAULTS = ProviderDefaults(images_dir="/srv/images", uri="qemu:///system")
CLAIM = "organization/urn:pulumi:dev::p::pulumi-python:dynamic/vigo:VigoBaseImage::base"
COMPRESS = {
    "xz": lzma.compress,
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _faults(**props: object) -> dict[str, str]:
    _, faults = check_inputs(props, DEFAULTS)
    return {f.property: f.reason for f in faults}


def test_defaults_fill_path_owner_group_mode_fetch_on_and_uri() -> None:
    spec = parse_spec(
        {"source": "https://mirror.example/jammy.img.xz", "sha256": "SHA256:" + DIGEST.upper()},
        DEFAULTS,
    )

    assert spec.path == "/srv/images/bases/jammy.img"
    assert (spec.owner, spec.group, spec.mode_text) == ("root", "root", "0644")
    assert (spec.fetch_on, spec.uri, spec.sha256) == (FetchOn.RUNNER, "qemu:///system", DIGEST)
    assert spec.compression == "xz"


@pytest.mark.parametrize(
    ("props", "field", "reason"),
    [
        ({"source": "ftp://x/y.img"}, "source", "not an https://, http:// or file:// URL"),
        ({"source": "https://u:p@x/y.img"}, "source", "holds credentials"),
        ({"source": "https://x/"}, "source", "names no file"),
        ({"sha256": "abc"}, "sha256", "64 hex digits"),
        ({"path": "relative.img"}, "path", "absolute path"),
        ({"path": "/srv/../etc/x.img"}, "path", "not a normalised path"),
        ({"owner": "bad owner"}, "owner", "Unix user"),
        ({"mode": 420}, "mode", "octal mode as a string"),
        ({"mode": "0666"}, "mode", "writable by nobody else"),
        ({"fetch_on": "elsewhere"}, "fetch_on", "runner"),
        ({"uri": "xen:///"}, "uri", "not a supported libvirt URI"),
        ({"claim": "mine"}, "claim", "set by VigoBaseImage"),
        ({"colour": "blue"}, "colour", "not an input of VigoBaseImage"),
    ],
)
def test_each_bad_input_is_one_fault_naming_it(props: dict, field: str, reason: str) -> None:
    base = {"source": "https://x/y.img", "sha256": DIGEST}

    faults = _faults(**{**base, **props})

    assert list(faults) == [field]
    assert reason in faults[field]


def test_missing_source_and_digest_are_reported_together() -> None:
    assert set(_faults()) == {"source", "sha256"}


def test_an_unknown_source_in_preview_passes_check_and_refuses_parse() -> None:
    class Unknown:  # the engine's pulumi.output.Unknown, by name
        pass

    normalised, faults = check_inputs({"source": Unknown(), "sha256": DIGEST}, DEFAULTS)

    assert faults == []
    with pytest.raises(InputError, match="not known yet"):
        parse_spec(normalised, DEFAULTS)


def test_only_path_and_uri_replace() -> None:
    old = parse_spec({"source": "https://x/a.img", "sha256": DIGEST, "claim": CLAIM}, DEFAULTS)
    new = parse_spec(
        {"source": "https://x/a.img", "sha256": "cd" * 32, "mode": "0640", "claim": CLAIM},
        DEFAULTS,
    )

    assert changed_inputs(old, new) == ["sha256", "mode"]
    assert {"path", "uri"} == REPLACING_INPUTS


def test_default_path_drops_only_the_compression_suffix() -> None:
    assert default_path("/i", "https://x/d/debian.qcow2.zst") == "/i/bases/debian.qcow2"
    assert default_path("/i", "file:///srv/my%20image.raw") == "/i/bases/my image.raw"


@pytest.mark.parametrize("compression", sorted(COMPRESS))
@given(data=st.binary(max_size=4096), parts=st.integers(min_value=1, max_value=3))
def test_concatenated_streams_decompress_whole_in_any_chunking(
    compression: str, data: bytes, parts: int
) -> None:
    pieces = [data[i::parts] for i in range(parts)]
    packed = b"".join(COMPRESS[compression](piece) for piece in pieces)
    chunks = [packed[i : i + 7] for i in range(0, len(packed), 7)]

    assert b"".join(decompressed(chunks, compression, "src")) == b"".join(pieces)


@pytest.mark.parametrize("compression", sorted(COMPRESS))
def test_a_truncated_stream_is_an_error_not_a_shorter_image(compression: str) -> None:
    packed = COMPRESS[compression](bytes(range(256)) * 256)

    with pytest.raises(ImageError, match=r"ends early|not valid"):
        b"".join(decompressed([packed[: len(packed) // 2]], compression, "https://x/y"))


def test_data_in_another_format_is_refused() -> None:
    with pytest.raises(ImageError, match="not valid xz data"):
        b"".join(decompressed([b"plainly not xz"], "xz", "https://x/y.xz"))


def test_progress_lines_are_rate_limited_and_name_the_resource() -> None:
    lines: list[str] = []
    now = [0.0]
    progress = Progress("VigoBaseImage base", 100 << 20, lines.append, clock=lambda: now[0])

    for _ in range(50):
        now[0] += 1.0
        progress.advance(1 << 20)

    assert len(lines) == 5  # one per 10 s, not one per block
    assert lines[0] == "VigoBaseImage base: 10.0 MiB of 100.0 MiB (10%), 1.0 MiB/s"


def test_a_job_reporting_totals_gets_the_same_lines_with_its_growing_total() -> None:
    """A live migration reports bytes done so far and a total that grows (memory dirtied
    again): the same rate-limited lines."""
    lines: list[str] = []
    now = [0.0]
    progress = Progress("VigoVm db01: moving to hv2", None, lines.append, clock=lambda: now[0])

    for second in range(1, 21):
        now[0] = float(second)
        progress.reach(second << 20, total=(100 + second) << 20)

    assert lines == [
        "VigoVm db01: moving to hv2: 10.0 MiB of 110.0 MiB (9%), 1.0 MiB/s",
        "VigoVm db01: moving to hv2: 20.0 MiB of 120.0 MiB (16%), 1.0 MiB/s",
    ]


def test_the_record_round_trips_and_checks_with_sha256sum_format() -> None:
    record = Record("11" * 32, "22" * 32, "https://x/y.img.xz", "0123456789abcdef")

    text = encode("/srv/bases/y.img", record)

    assert text.decode().splitlines()[0] == f"{'11' * 32}  y.img"
    assert decode(text) == ("y.img", record)
    assert decode(b"garbage") is None
    assert is_ours("/srv/bases/y.img")(text)
    assert not is_ours("/srv/bases/other.img")(text), "another base's record is not ours"
    assert not is_ours("/srv/bases/y.img")(f"{'11' * 32}  y.img\n".encode()), "sha256sum's"


@pytest.mark.parametrize(
    ("text", "result"),
    [(None, 60.0), ("", 60.0), ("5", 5.0), ("0", "must be"), ("soon", "must be")],
)
def test_the_idle_timeout_config(text: str | None, result: float | str) -> None:
    value = _idle_timeout(text)

    assert value == result if isinstance(result, float) else str(result) in str(value)
