"""Hostile registries and layout directories: every trick ends in a clear CuratorError, fast,
with no file read outside the layout and no credential sent to another origin."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from pulumi_vigo_vm.curator import registry as registry_module
from pulumi_vigo_vm.curator.cli import main
from pulumi_vigo_vm.curator.manifest import (
    ARTIFACT_TYPE_GENERIC,
    Layer,
    build_manifest,
    parse_manifest,
    sha256_digest,
)
from pulumi_vigo_vm.curator.materialise import materialise
from pulumi_vigo_vm.curator.registry import RegistryStore
from pulumi_vigo_vm.curator.resolve import ResolvedArtifact, resolve
from pulumi_vigo_vm.curator.store import MAX_METADATA_BYTES, open_store
from pulumi_vigo_vm.errors import CuratorError, CuratorUnreachableError
from pulumi_vigo_vm.hosts.local import LocalHost

from .conftest import docker_login
from .hostile import Handler, Hostile, hostile_registry, send
from .test_flow import MakeImage, publish

MANIFEST = "/v2/p/base/manifests/1"
GRAMMAR = r"is not sha256:<64 lowercase hex digits>"


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_registry() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[Hostile]:
    """A second server: another origin (another port) that must never see credentials."""
    with hostile_registry() as server:
        yield server


def artifact_manifest(blob: bytes) -> bytes:
    return build_manifest(
        ARTIFACT_TYPE_GENERIC, [Layer("linux-amd64", sha256_digest(blob), len(blob), "raw")]
    )


def timed(action: Callable[[], object]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(CuratorError) as info:
        action()
    return info.value, time.monotonic() - started


# -- 1. size and time bounds ------------------------------------------------------------------


def drip_body(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def drip_headers(handler: Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100000):
        handler.wfile.write(b"X: y\r\n")
        handler.wfile.flush()
        time.sleep(0.2)


@pytest.mark.parametrize("drip", [drip_body, drip_headers])
def test_a_dripping_registry_fails_at_the_overall_deadline(
    hostile: Hostile, drip: Callable[[Handler], None]
) -> None:
    hostile.routes[MANIFEST] = drip
    store = RegistryStore(hostile.location, deadline=1.0)

    error, took = timed(
        lambda: resolve("p/base:1", hostile.location, "", "linux-amd64", store=store)
    )

    assert isinstance(error, CuratorUnreachableError)
    assert "fetching manifest p/base:1 did not finish within 1 s" in str(error)
    assert hostile.location in str(error)
    assert took < 4, took


def endless(handler: Handler) -> None:
    """A body with no length, never ending (HTTP/1.0: it ends when the connection does)."""
    handler.send_response(200)
    handler.end_headers()
    block = b"[" * 65536
    for _ in range(100000):
        handler.wfile.write(block)


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_manifest_is_refused_naming_the_url_and_limit(
    hostile: Hostile, declared: bool
) -> None:
    if declared:
        hostile.routes[MANIFEST] = lambda h: send(h, 200, b" " * (MAX_METADATA_BYTES + 1))
    else:
        hostile.routes[MANIFEST] = endless

    error, took = timed(lambda: resolve("p/base:1", hostile.location, "", "linux-amd64"))

    assert f"sent more than {MAX_METADATA_BYTES} bytes" in str(error)
    assert f"{hostile.url}{MANIFEST}" in str(error)
    assert took < 10, took


def test_an_oversized_tag_list_is_refused(hostile: Hostile) -> None:
    hostile.routes["/v2/_catalog"] = lambda h: send(h, 200, b'{"repositories":["p/base"]}')
    hostile.routes["/v2/p/base/tags/list"] = endless

    assert main(["ls", "--curator", hostile.location]) == 1


def test_a_stalled_blob_download_ends_after_the_idle_timeout(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blob = os.urandom(4096)
    digest = sha256_digest(blob)
    hostile.routes[MANIFEST] = lambda h: send(h, 200, artifact_manifest(blob))

    def stall(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blob)))
        handler.end_headers()
        handler.wfile.write(blob[:100])
        handler.wfile.flush()
        time.sleep(30)

    hostile.routes[f"/v2/p/base/blobs/{digest}"] = stall
    monkeypatch.setattr(registry_module, "IDLE_TIMEOUT", 1.0)
    resolved = resolve("p/base:1", hostile.location, "", "linux-amd64")

    error, took = timed(lambda: materialise(LocalHost(), resolved, str(tmp_path / "a")))

    assert f"download of {digest} broke off" in str(error)
    assert took < 8, took
    assert [p for p in (tmp_path / "a").rglob("*") if p.is_file()] == []


# -- 2. digests are checked before they become paths or URLs ---------------------------------


def crafted_digest(target: Path, start: Path) -> str:
    """``sha256:<relative path from start to target>``, padded with ``./`` to 64 characters:
    what passed the old 'length 64' check."""
    relative = os.path.relpath(target, start)
    assert len(relative) <= 64, relative
    padding = 64 - len(relative)
    return "sha256:" + "./" * (padding // 2) + ("/" if padding % 2 else "") + relative


@pytest.fixture
def layout(tmp_path: Path, make_image: MakeImage) -> tuple[str, Path]:
    """A layout curator with artifact ``p/base:1`` and the path of its repository."""
    curator = str(tmp_path / "c")
    publish(open_store(curator), make_image(), "p/base:1", "")
    return curator, tmp_path / "c" / "p" / "base"


def retag(repo: Path, digest: str) -> None:
    index = json.loads((repo / "index.json").read_text())
    index["manifests"][0]["digest"] = digest
    (repo / "index.json").write_text(json.dumps(index))


def test_a_crafted_index_digest_reads_no_file_outside_the_layout(
    layout: tuple[str, Path], tmp_path: Path
) -> None:
    curator, repo = layout
    secret = tmp_path / "secret"
    secret.write_bytes(artifact_manifest(b"x"))  # would even parse, were it read
    secret.chmod(0o600)
    retag(repo, crafted_digest(secret, repo / "blobs" / "sha256"))

    with pytest.raises(CuratorError, match=GRAMMAR) as info:
        resolve("p/base:1", curator, "", "linux-amd64")
    assert "index.json tag 1" in str(info.value)


def test_a_crafted_layer_digest_is_refused_by_the_parser(
    layout: tuple[str, Path], tmp_path: Path
) -> None:
    curator, repo = layout
    secret = tmp_path / "secret"
    secret.write_bytes(b"private")
    secret.chmod(0o600)
    body = json.loads(artifact_manifest(b"private"))
    body["layers"][0]["digest"] = crafted_digest(secret, repo / "blobs" / "sha256")
    data = json.dumps(body).encode()
    (repo / "blobs" / "sha256" / sha256_digest(data)[7:]).write_bytes(data)
    retag(repo, sha256_digest(data))

    with pytest.raises(CuratorError, match=GRAMMAR) as info:
        resolve("p/base:1", curator, "", "linux-amd64")
    assert "p/base:1" in str(info.value) and "layer linux-amd64" in str(info.value)


def test_a_crafted_digest_in_state_touches_neither_the_layout_nor_the_host(
    layout: tuple[str, Path], tmp_path: Path
) -> None:
    curator, repo = layout
    resolved = resolve("p/base:1", curator, "", "linux-amd64")
    tampered = ResolvedArtifact.from_dict(
        {**resolved.to_dict(), "digest": crafted_digest(Path("/dev/zero"), repo / "blobs/sha256")}
    )
    root = tmp_path / "artifacts"

    with pytest.raises(CuratorError, match=GRAMMAR):
        materialise(LocalHost(), tampered, str(root))
    assert not root.exists()


def test_a_manifest_file_that_is_a_device_or_too_big_is_refused(
    layout: tuple[str, Path],
) -> None:
    curator, repo = layout
    fake = "sha256:" + "0" * 64
    blob = repo / "blobs" / "sha256" / fake[7:]
    retag(repo, fake)
    blob.symlink_to("/dev/zero")
    with pytest.raises(CuratorError, match="not a regular file"):
        resolve("p/base:1", curator, "", "linux-amd64")

    blob.unlink()
    with open(blob, "wb") as out:
        out.truncate(MAX_METADATA_BYTES + 1)
    with pytest.raises(CuratorError, match=f"larger than {MAX_METADATA_BYTES} bytes"):
        resolve("p/base:1", curator, "", "linux-amd64")


# -- 3. credentials stay on the registry's origin --------------------------------------------


@pytest.fixture
def login(hostile: Hostile, docker_home: Path) -> str:
    """Log in to ``hostile`` and make it demand that login (HTTP Basic); returns the header."""
    docker_login(docker_home, hostile.location, "vigo", "s3cret-password")
    return "Basic " + base64.b64encode(b"vigo:s3cret-password").decode()


def basic_protected(login: str, answer: Callable[[Handler], None]) -> Callable[[Handler], None]:
    def route(handler: Handler) -> None:
        if handler.headers.get("Authorization") != login:
            send(handler, 401, b"{}", Www_Authenticate='Basic realm="hostile"')
        else:
            answer(handler)

    return route


def test_a_next_page_on_another_origin_is_refused_and_gets_no_credentials(
    hostile: Hostile, elsewhere: Hostile, login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    next_page = f'<{elsewhere.url}/v2/_catalog?last=a>; rel="next"'
    hostile.routes["/v2/_catalog"] = basic_protected(
        login, lambda h: send(h, 200, b'{"repositories":["a"]}', Link=next_page)
    )
    elsewhere.routes["/v2/_catalog"] = lambda h: send(h, 200, b'{"repositories":["b"]}')

    assert main(["ls", "--curator", hostile.location]) == 1

    err = capsys.readouterr().err
    assert "refusing to send the registry's credentials to another origin" in err
    assert f"{elsewhere.url}/v2/_catalog?last=a" in err
    assert elsewhere.seen == []


def test_next_pages_on_the_same_origin_are_all_listed(hostile: Hostile, login: str) -> None:
    pages = {"": (["b"], '</v2/_catalog?last=b>; rel="next"'), "last=b": (["a"], None)}

    def catalog(handler: Handler) -> None:
        names, link = pages[handler.path.partition("?")[2].removeprefix("n=1000")]
        extra = {"Link": link} if link else {}
        send(handler, 200, json.dumps({"repositories": names}).encode(), **extra)

    hostile.routes["/v2/_catalog"] = basic_protected(login, catalog)
    assert RegistryStore(hostile.location).repositories() == ["a", "b"]


@pytest.mark.parametrize("challenge", ["Basic", "Bearer"])
def test_credentials_never_follow_a_redirect_to_another_origin(
    hostile: Hostile, elsewhere: Hostile, login: str, challenge: str
) -> None:
    target = f"{elsewhere.url}/storage/manifest"
    hostile.routes[MANIFEST] = basic_protected(login, lambda h: send(h, 307, Location=target))
    realm = f'realm="{elsewhere.url}/token"' if challenge == "Bearer" else 'realm="x"'
    elsewhere.routes["/storage/manifest"] = lambda h: send(
        h, 401, b"{}", Www_Authenticate=f"{challenge} {realm}"
    )
    elsewhere.routes["/token"] = lambda h: send(h, 200, b'{"token":"t"}')

    with pytest.raises(CuratorError, match="another origin reached by a redirect"):
        resolve("p/base:1", hostile.location, "", "linux-amd64")

    assert elsewhere.seen, "the redirect was not followed at all"
    assert all("Authorization" not in seen.headers for seen in elsewhere.seen)
    assert [seen.path for seen in elsewhere.seen] == ["/storage/manifest"]


# -- 4. hostile content is a CuratorError naming the reference -------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2]", "manifest is a JSON array, not an object"),
        (b'"just a string"', "manifest is a JSON string, not an object"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        (b'{"layers": [1, "x"]}', "layer 0 of the manifest is not a JSON object"),
        (b'{"layers": [{"annotations": ["x"]}]}', "annotations of layer 0 are not a JSON object"),
        (
            b'{"layers": [{"annotations": {"io.vigo.platform": "linux-amd64"}, "size": true,'
            b' "digest": "sha256:' + b"a" * 64 + b'"}]}',
            "no valid size",
        ),
    ],
)
def test_hostile_manifests_are_refused_naming_the_reference(
    hostile: Hostile, body: bytes, fragment: str
) -> None:
    hostile.routes[MANIFEST] = lambda h: send(h, 200, body)

    with pytest.raises(CuratorError) as info:
        resolve("p/base:1", hostile.location, "", "linux-amd64")

    assert f"p/base:1 in curator {hostile.location}" in str(info.value)
    assert fragment in str(info.value)


def test_a_redirect_loop_is_refused(hostile: Hostile) -> None:
    hostile.routes[MANIFEST] = lambda h: send(h, 302, Location=MANIFEST)

    with pytest.raises(CuratorError, match=r"redirected more than 5 times .* a redirect loop"):
        resolve("p/base:1", hostile.location, "", "linux-amd64")


@pytest.mark.parametrize("body", [b"[]", b'{"repositories": "p/base"}', b'{"repositories": [1]}'])
def test_a_hostile_catalog_is_one_error_line(
    hostile: Hostile, body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.routes["/v2/_catalog"] = lambda h: send(h, 200, body)

    assert main(["ls", "--curator", hostile.location]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vigo-curator: error: curator registry {hostile.location}: listing")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "entries", [["not an object"], [{"annotations": ["x"]}], "not a list", [None]]
)
def test_a_hostile_layout_index_is_refused(layout: tuple[str, Path], entries: object) -> None:
    curator, repo = layout
    (repo / "index.json").write_text(json.dumps({"manifests": entries}))

    with pytest.raises(CuratorError, match=r"p/base/index.json is not an OCI index"):
        resolve("p/base:1", curator, "", "linux-amd64")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
_KEYS = st.sampled_from(["layers", "annotations", "digest", "size", "mediaType", "config"])
_SHAPED = st.recursive(
    _JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_SHAPED.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)))
def test_the_parser_only_ever_raises_curator_errors(data: bytes) -> None:
    try:
        manifest = parse_manifest("here", data)
    except CuratorError as exc:
        assert str(exc).startswith("here: ")
    else:
        assert all(layer.digest.startswith("sha256:") for layer in manifest.layers)
