"""A registry behind a password: refused clearly without a valid login, never showing secrets.

That the whole flow works when logged in is proved by ``test_flow`` and ``test_cli``, which
also run against ``auth_registry`` (see the ``served_by`` fixture).
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from support.registry import Registry

from pulumi_vigo_vm.curator.cli import main
from pulumi_vigo_vm.curator.materialise import materialise
from pulumi_vigo_vm.curator.resolve import resolve
from pulumi_vigo_vm.curator.store import open_store
from pulumi_vigo_vm.errors import CuratorError, CuratorUnreachableError
from pulumi_vigo_vm.hosts.local import LocalHost

from .conftest import docker_login
from .test_flow import MakeImage, publish


def refusal(action: Callable[[], object]) -> CuratorError:
    """The CuratorError ``action`` raises: an auth failure, not 'unreachable'."""
    with pytest.raises(CuratorError) as info:
        action()
    assert not isinstance(info.value, CuratorUnreachableError), info.value
    return info.value


def says_how_to_log_in(error: CuratorError, host: str) -> None:
    assert re.search(
        rf"^curator registry {re.escape(host)} .*log in with `oras login {re.escape(host)}`",
        str(error),
    ), str(error)


def everything_shown(error: BaseException) -> str:
    """The traceback text (with every chained cause) and the repr of each exception in it."""
    shown = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        shown.append(repr(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(shown)


@pytest.mark.parametrize("login", ["none", "wrong-password"])
def test_refused_clearly_and_nothing_written(
    login: str,
    auth_registry: Registry,
    docker_home: Path,
    puddle: str,
    make_image: MakeImage,
    tmp_path: Path,
) -> None:
    host, user, password = auth_registry.location, auth_registry.user, auth_registry.password
    assert user is not None and password is not None
    # Published by someone logged in, so there is something to resolve and fetch.
    docker_login(docker_home, host, user, password)
    publish(open_store(host), make_image(), "u:1", puddle)
    resolved = resolve("u:1", host, puddle, "linux-amd64")
    assert auth_registry.has_repositories(puddle)

    config = docker_home / ".docker/config.json"
    if login == "none":
        config.unlink()
    else:
        docker_login(docker_home, host, user, "wrong-" + secrets.token_urlsafe(16))

    other = "q" + puddle
    pushing = refusal(lambda: publish(open_store(host), make_image(), "u:1", other))
    says_how_to_log_in(pushing, host)
    assert not auth_registry.has_repositories(other)

    says_how_to_log_in(refusal(lambda: resolve("u:1", host, puddle, "linux-amd64")), host)

    root = tmp_path / "artifacts"
    says_how_to_log_in(refusal(lambda: materialise(LocalHost(), resolved, str(root))), host)
    assert not root.exists()


def test_cli_without_login_is_one_line(
    auth_registry: Registry, docker_home: Path, puddle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    host = auth_registry.location
    assert main(["resolve", "--curator", host, "--puddle", puddle, "u:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vigo-curator: error: curator registry {host} ") and err.count("\n") == 1
    assert f"`oras login {host}`" in err


def test_passwords_never_shown(
    auth_registry: Registry,
    docker_home: Path,
    puddle: str,
    make_image: MakeImage,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the password nor its Basic token appears in an error, its causes or any log."""
    host, user, password = auth_registry.location, auth_registry.user, auth_registry.password
    assert user is not None and password is not None
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + secrets.token_urlsafe(16)
    errors: list[CuratorError] = []

    docker_login(docker_home, host, user, password)
    publish(open_store(host), make_image(), "u:1", puddle)
    resolved = resolve("u:1", host, puddle, "linux-amd64")
    errors.append(refusal(lambda: resolve("u:2", host, puddle, "linux-amd64")))

    docker_login(docker_home, host, user, wrong)
    errors.append(refusal(lambda: publish(open_store(host), make_image(), "u:1", puddle)))
    errors.append(refusal(lambda: resolve("u:1", host, puddle, "linux-amd64")))
    errors.append(refusal(lambda: materialise(LocalHost(), resolved, str(tmp_path / "a"))))

    out, err = capfd.readouterr()
    shown = "\n".join([out, err, caplog.text, *map(everything_shown, errors)])
    assert "does not exist" in shown and f"`oras login {host}`" in shown
    for secret in (password, wrong):
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
        assert secret not in shown and basic not in shown


def test_docker_config_variable_names_the_logins_as_for_docker(
    auth_registry: Registry,
    docker_home: Path,
    puddle: str,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With $DOCKER_CONFIG set, its config.json is the one read (~/.docker is not)."""
    host, user, password = auth_registry.location, auth_registry.user, auth_registry.password
    assert user is not None and password is not None
    docker_login(docker_home, host, user, "stale-" + secrets.token_urlsafe(8))
    elsewhere = tmp_path / "ci-docker"
    elsewhere.mkdir()
    docker_login(elsewhere, host, user, password)
    monkeypatch.setenv("DOCKER_CONFIG", str(elsewhere / ".docker"))

    publish(open_store(host), make_image(), "d:1", puddle)
    assert resolve("d:1", host, puddle, "linux-amd64").digest.startswith("sha256:")

    (elsewhere / ".docker/config.json").unlink()
    says_how_to_log_in(refusal(lambda: resolve("d:1", host, puddle, "linux-amd64")), host)
