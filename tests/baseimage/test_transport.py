"""How the runner reaches a source: the proxy variables and the CA bundle variables users
set for every other tool, honoured by the provider's process."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .bench import Bench, sha256
from .server import ImageServer, Route

pytestmark = pytest.mark.libvirt

UNREACHABLE = "http://127.0.0.1:9/mirror/base.qcow2"
"""A source no one answers directly (the discard port): only a proxy can serve it."""


@pytest.fixture
def proxy() -> Iterator[ImageServer]:
    with ImageServer().running() as running:
        yield running


def test_http_proxy_is_used_and_no_proxy_bypasses_it(
    bench: Bench, proxy: ImageServer, images: dict[str, bytes]
) -> None:
    proxy.serve(UNREACHABLE, Route(body=images["a"]))
    bench.lab.env.update({"HTTP_PROXY": proxy.url(""), "NO_PROXY": ""})
    bench.image("base", source=UNREACHABLE, sha256=sha256(images["a"]))

    bench.up()

    assert proxy.hits[UNREACHABLE] == 1
    assert (bench.bases_dir / "base.qcow2").read_bytes() == images["a"]

    bench.lab.env["NO_PROXY"] = "127.0.0.1"
    bench.image("other", source=UNREACHABLE, sha256=sha256(images["a"]), path=str(bench.root / "o"))
    error = bench.failing()

    assert f"source {UNREACHABLE}:" in error, error  # tried directly, and no one is there
    assert proxy.hits[UNREACHABLE] == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl makes it), and its key."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[ImageServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with ImageServer(tls=context).running() as running:
        yield running


def test_tls_is_verified_against_the_bundle_users_name(
    bench: Bench,
    tls_server: ImageServer,
    certificate: tuple[Path, Path],
    images: dict[str, bytes],
) -> None:
    url = tls_server.serve("/secure/base.qcow2", Route(body=images["a"]))
    bench.image("base", source=url, sha256=sha256(images["a"]))

    error = bench.failing()  # the system store does not know our CA

    assert "TLS verification failed" in error and "REQUESTS_CA_BUNDLE" in error
    assert bench.files() == set()

    bench.lab.env["REQUESTS_CA_BUNDLE"] = str(certificate[0])
    bench.up()

    assert (bench.bases_dir / "base.qcow2").read_bytes() == images["a"]
