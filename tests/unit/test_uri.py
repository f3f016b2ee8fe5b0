"""LibvirtUri: one parse of a libvirt URI for the validator, the hosts, the SSH target and
the tunnel, and one redaction for messages.

The legacy functions below are the parsing each caller did itself before LibvirtUri (copied
from the tree as it was); the properties check that the value gives every caller what its
own parsing gave, and the validator the very same reasons.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pulumi_vigo_vm.common.numbers import shown
from pulumi_vigo_vm.common.uri import DEFAULT_URI, PATHS, PROXIES, LibvirtUri
from pulumi_vigo_vm.vm import inputs

# ------------------------------------------------------------------ the parsing it replaced

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]+")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")


def legacy_validator(uri: str) -> str:
    """inputs.uri before LibvirtUri (after inputs._text's checks)."""
    parts = urlsplit(uri)
    if parts.password is not None:
        raise ValueError(
            "holds a password, which would be stored in the stack's state in plain text; "
            "use keyfile= or ssh-agent instead"
        )
    if parts.scheme not in ("qemu", "qemu+ssh", "qemu+unix"):
        raise ValueError(
            f"{shown(uri)} is not a supported libvirt URI: use qemu:///system or "
            "qemu+ssh://[user@]host[:port]/system"
        )
    if parts.path not in ("/system", "/session"):
        raise ValueError(f"{shown(uri)}: the path must be /system or /session")
    remote = parts.scheme == "qemu+ssh"
    if remote and not parts.hostname:
        raise ValueError(f"{shown(uri)}: qemu+ssh needs a host, e.g. qemu+ssh://root@hv1/system")
    if remote and not _HOST.fullmatch(parts.hostname or ""):
        raise ValueError(f"{shown(uri)}: {parts.hostname!r} is not a host name or address")
    if parts.username is not None and not _USER.fullmatch(parts.username):
        raise ValueError(f"{shown(uri)}: {parts.username!r} is not a user name")
    if not remote and parts.netloc:
        raise ValueError(f"{shown(uri)}: a local URI has no host; use {parts.scheme}:///system")
    if re.search(r"[<>\"'\s\\]", uri):
        raise ValueError(f"{shown(uri)}: contains characters a libvirt URI cannot hold")
    try:
        parts.port  # noqa: B018
    except ValueError:
        raise ValueError(f"{shown(uri)}: the port must be a number from 1 to 65535") from None
    query = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    if query.get("no_verify", "0") != "0":
        raise ValueError(
            f"{shown(uri)}: no_verify is refused; SSH host keys are always verified "
            "(add the host's key to known_hosts instead)"
        )
    if query.get("proxy", "auto") not in ("auto", "native", "netcat"):
        raise ValueError(f"{shown(uri)}: proxy must be auto, native (virt-ssh-helper) or netcat")
    return uri


def legacy_ssh_view(uri: str) -> tuple[Any, ...]:
    """What hosts/ssh/target.py read from a URI."""
    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    user = unquote(parts.username) if parts.username else ""
    return (
        parts.hostname,
        user,
        parts.port,
        query.get("keyfile", ""),
        query.get("known_hosts", ""),
    )


def legacy_tunnel_view(uri: str) -> tuple[Any, ...]:
    """What hosts/libvirt_tunnel.py read from a URI."""
    parts = urlsplit(uri)
    params = parse_qsl(parts.query, keep_blank_values=True)
    ours = dict(params)
    return (
        parts.scheme.split("+", 1)[0],
        parts.path,
        params,
        ours.get("name", ""),
        ours.get("proxy", "auto"),
        ours.get("socket", ""),
        ours.get("netcat", ""),
    )


def legacy_is_remote(uri: str) -> bool:
    scheme = urlsplit(uri).scheme
    return "+" in scheme and not scheme.endswith("+unix")


# ------------------------------------------------------------------ strategies

_pieces = st.sampled_from(
    [
        "qemu", "qemu+ssh", "qemu+unix", "qemu+tls", "QEMU+SSH", "http", "://", ":///", "/",
        "system", "session", "/system", "root", "@", ":", "root:pw", "hv1", "HV1.example",
        "10.0.0.5", "[::1]", "[", ":22", ":2222", ":0", ":99999", ":abc", "?", "&", "=",
        "keyfile=/k", "known_hosts=/kh", "proxy=netcat", "proxy=telnet", "proxy=",
        "no_verify=1", "no_verify=0", "no_verify=", "socket=/s", "netcat=/opt/nc",
        "name=qemu:///embed", "foo=bar", "%2F", "%40", "r%6Fot", " ", "<", "'", "#frag",
    ]
)  # fmt: skip
uri_texts = st.lists(_pieces, max_size=12).map("".join)

_values = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    max_size=12,
).filter(lambda v: not re.search(r"[<>\"'\\]", v))
_params = st.lists(
    st.tuples(
        st.sampled_from(["keyfile", "known_hosts", "socket", "netcat", "name", "foo"]), _values
    )
    | st.tuples(st.just("proxy"), st.sampled_from(PROXIES))
    | st.tuples(st.just("no_verify"), st.just("0")),
    max_size=4,
).map(tuple)
_hosts = st.from_regex(r"\A[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?\Z") | st.sampled_from(
    ["10.0.0.5", "::1", "2001:db8::7"]
)
_users = st.none() | st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,31}\Z")
valid_uris = st.one_of(
    st.builds(
        LibvirtUri,
        scheme=st.sampled_from(["qemu", "qemu+unix"]),
        path=st.sampled_from(PATHS),
        query=_params,
    ),
    st.builds(
        LibvirtUri,
        scheme=st.just("qemu+ssh"),
        user=_users,
        host=_hosts,
        port=st.none() | st.integers(1, 65535),
        path=st.sampled_from(PATHS),
        query=_params,
    ),
)


def _reason(call: Any, text: str) -> str | None:
    try:
        call(text)
    except ValueError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ the validator


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uri_texts | valid_uris.map(str))
def test_parse_accepts_and_refuses_exactly_as_the_validator_did(text: str) -> None:
    assert _reason(LibvirtUri.parse, text) == _reason(legacy_validator, text)


@pytest.mark.parametrize(
    "text",
    ["qemu:///system", "qemu+ssh://root@hv1:2222/system?keyfile=/k", "qemu+unix:///session"],
)
def test_the_uri_input_is_kept_verbatim(text: str) -> None:
    assert inputs.uri(text) == text


def test_a_password_is_refused_before_anything_could_echo_it() -> None:
    with pytest.raises(ValueError, match="holds a password") as caught:
        LibvirtUri.parse("http://root:hunter2@/bogus?no_verify=1")
    assert "hunter2" not in str(caught.value)


def test_the_default_uri_has_one_home_and_is_valid() -> None:
    assert inputs.DEFAULT_URI is DEFAULT_URI
    assert not LibvirtUri.parse(DEFAULT_URI).is_remote


# ------------------------------------------------------------------ the parts


def test_the_parts_of_a_remote_uri() -> None:
    uri = LibvirtUri.parse(
        "qemu+ssh://ops@HV1.example:2222/system?keyfile=/k&known_hosts=/kh&proxy=netcat"
        "&socket=/s&netcat=/opt/nc&name=qemu:///embed&keyfile=/k2"
    )
    assert (uri.scheme, uri.driver, uri.transport) == ("qemu+ssh", "qemu", "ssh")
    assert (uri.user, uri.host, uri.port, uri.path) == ("ops", "hv1.example", 2222, "/system")
    assert (uri.keyfile, uri.known_hosts) == ("/k2", "/kh")  # the last one wins, as in libvirt
    assert (uri.proxy, uri.socket, uri.netcat, uri.name) == (
        "netcat",
        "/s",
        "/opt/nc",
        "qemu:///embed",
    )
    assert uri.is_remote and uri.is_ssh and not uri.no_verify


def test_a_local_uri_has_no_transport_and_default_options() -> None:
    uri = LibvirtUri.parse("qemu:///session")
    assert (uri.transport, uri.user, uri.host, uri.port) == ("", None, None, None)
    assert (uri.proxy, uri.keyfile, uri.is_remote) == ("auto", "", False)


@settings(max_examples=500, deadline=None)
@given(uri_texts)
def test_read_gives_each_caller_what_its_own_parsing_gave(text: str) -> None:
    try:
        uri = LibvirtUri.read(text, lax_port=True)
    except ValueError:  # an unbalanced "[": urlsplit itself refused it
        with pytest.raises(ValueError):
            urlsplit(text)
        return
    assert uri.is_remote == legacy_is_remote(text)
    tunnel = (uri.driver, uri.path, list(uri.query), uri.name, uri.proxy, uri.socket, uri.netcat)
    assert tunnel == legacy_tunnel_view(text)
    try:
        ssh = legacy_ssh_view(text)
    except ValueError:  # the port: read() refuses it unless lax
        with pytest.raises(ValueError):
            LibvirtUri.read(text)
        return
    assert (uri.host, uri.user or "", uri.port, uri.keyfile, uri.known_hosts) == ssh


# ------------------------------------------------------------------ rendering


@settings(max_examples=500, deadline=None)
@given(valid_uris)
def test_str_parses_back_to_the_same_value(uri: LibvirtUri) -> None:
    assert LibvirtUri.parse(str(uri)) == uri


@settings(max_examples=300, deadline=None)
@given(valid_uris, st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=6))
def test_redacted_never_shows_the_password_or_the_query(uri: LibvirtUri, secret: str) -> None:
    holding = replace(uri, user=uri.user or "x", password=secret)
    assume(secret not in str(replace(holding, password=None)))
    read = LibvirtUri.read(str(holding))
    assert read == holding and read.password == secret
    redacted = read.redacted()
    assert secret not in redacted and ":***@" in redacted
    assert "?" not in redacted  # key paths and options stay out of messages
    assert LibvirtUri.read(redacted).query == ()


def test_redacted_keeps_who_and_where() -> None:
    uri = LibvirtUri.read("qemu+ssh://root:hunter2@hv1:2222/system?keyfile=/secret/key")
    assert uri.redacted() == "qemu+ssh://root:***@hv1:2222/system"
    assert "hunter2" not in repr(uri)
    assert LibvirtUri.read("qemu+ssh://[2001:db8::7]/system").redacted() == (
        "qemu+ssh://[2001:db8::7]/system"
    )
