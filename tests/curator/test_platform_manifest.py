"""Platforms, manifests and curator-location parsing: pure helpers."""

from __future__ import annotations

import json

import pytest

from pulumi_vigo_vm.curator.manifest import (
    ARTIFACT_TYPE_GENERIC,
    MEDIA_TYPE_RAW,
    Layer,
    build_manifest,
    parse_manifest,
)
from pulumi_vigo_vm.curator.platform import normalise_platform, platform_for_machine
from pulumi_vigo_vm.curator.registry import parse_registry_location
from pulumi_vigo_vm.curator.store import is_layout_location
from pulumi_vigo_vm.errors import CuratorError

DIGEST = "sha256:" + "ab" * 32


def test_platforms() -> None:
    assert normalise_platform("linux/amd64") == "linux-amd64"
    assert normalise_platform("linux-arm64") == "linux-arm64"
    assert platform_for_machine("x86_64") == "linux-amd64"
    assert platform_for_machine("aarch64") == "linux-arm64"
    with pytest.raises(CuratorError, match="not <os>-<arch>"):
        normalise_platform("amd64")
    with pytest.raises(CuratorError, match="no artifact platform"):
        platform_for_machine("pdp11")


def test_manifest_is_canonical_and_order_free() -> None:
    amd = Layer("linux-amd64", DIGEST, 3, MEDIA_TYPE_RAW)
    arm = Layer("linux-arm64", DIGEST, 3, MEDIA_TYPE_RAW)
    one = build_manifest(ARTIFACT_TYPE_GENERIC, [amd, arm])
    assert one == build_manifest(ARTIFACT_TYPE_GENERIC, [arm, amd])
    parsed = parse_manifest("here", one)
    assert parsed.artifact_type == ARTIFACT_TYPE_GENERIC
    assert parsed.layer_for("linux-arm64") == arm
    assert parsed.layer_for("linux-s390x") is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[]", "is a JSON array, not an object"),
        (json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json"}), "image indexes"),
        (json.dumps({"layers": None}), "no layers"),
        (json.dumps({"layers": [{"digest": DIGEST, "size": 1}]}), "no io.vigo.platform"),
        (
            json.dumps(
                {
                    "layers": [
                        {"digest": "md5:x", "size": 1, "annotations": {"io.vigo.platform": "l-a"}}
                    ]
                }
            ),
            r"digest 'md5:x' is not sha256:<64 lowercase hex digits>",
        ),
    ],
)
def test_manifest_refusals(body: bytes | str, fragment: str) -> None:
    data = body.encode() if isinstance(body, str) else body
    with pytest.raises(CuratorError, match=fragment):
        parse_manifest("here", data)


@pytest.mark.parametrize(
    ("curator", "layout"),
    [
        ("/srv/curator", True),
        ("./curator", True),
        ("~/curator", True),
        ("file:///srv/c", True),
        ("127.0.0.1:5000", False),
        ("registry.example.com", False),
        ("https://registry.example.com", False),
    ],
)
def test_layout_or_registry(curator: str, layout: bool) -> None:
    assert is_layout_location(curator) is layout


@pytest.mark.parametrize(
    ("curator", "expected"),
    [
        ("127.0.0.1:5000", ("http", "127.0.0.1:5000")),
        ("localhost:5000", ("http", "localhost:5000")),
        ("[::1]:5000", ("http", "[::1]:5000")),
        ("registry.example.com", ("https", "registry.example.com")),
        ("10.1.2.3:5000", ("https", "10.1.2.3:5000")),
        ("http://registry.lan:5000/", ("http", "registry.lan:5000")),
        ("https://127.0.0.1:5000", ("https", "127.0.0.1:5000")),
    ],
)
def test_registry_location(curator: str, expected: tuple[str, str]) -> None:
    assert parse_registry_location(curator) == expected


@pytest.mark.parametrize("curator", ["ftp://x", "host/path", "", "a b"])
def test_registry_location_refusals(curator: str) -> None:
    with pytest.raises(CuratorError):
        parse_registry_location(curator)
