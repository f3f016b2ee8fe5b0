"""parse_reference: the four forms, and an exact, friendly error for everything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_vigo_vm.curator.reference import ArtifactRef, parse_reference
from pulumi_vigo_vm.errors import CuratorError

ID = "e3810a25" + "0" * 56


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu-22.04-cloud:1.4", ArtifactRef("ubuntu-22.04-cloud", "1.4")),
        ("ubuntu-22.04-cloud@1.4", ArtifactRef("ubuntu-22.04-cloud", "1.4")),
        (
            "alexander4/ubuntu-22.04-cloud:1.4",
            ArtifactRef("ubuntu-22.04-cloud", "1.4", "alexander4"),
        ),
        (
            "e3810a25/ubuntu-22.04-cloud@1.4",
            ArtifactRef("ubuntu-22.04-cloud", "1.4", None, "e3810a25"),
        ),
        (f"{ID}/ubuntu@1.4", ArtifactRef("ubuntu", "1.4", None, ID)),
        ("E3810A25/ubuntu@1.4", ArtifactRef("ubuntu", "1.4", None, "e3810a25")),
        ("org/team/debian:12", ArtifactRef("debian", "12", "org/team")),
        ("a:B_1.x-y", ArtifactRef("a", "B_1.x-y")),
        ("a__b.c--d:latest", ArtifactRef("a__b.c--d", "latest")),
        # a hex-looking puddle with ':' is a puddle, not a pin
        ("deadbeef/ubuntu:1.4", ArtifactRef("ubuntu", "1.4", "deadbeef")),
    ],
)
def test_valid_forms(text: str, expected: ArtifactRef) -> None:
    assert parse_reference(text) == expected


def test_str_is_canonical_and_reparses() -> None:
    assert str(parse_reference("ubuntu@1.4")) == "ubuntu:1.4"
    for text in ("ubuntu:1.4", "al/ubuntu:1.4", "e3810a25/ubuntu@1.4"):
        assert str(parse_reference(text)) == text


def test_repository_uses_default_puddle_only_when_implicit() -> None:
    assert parse_reference("u:1").repository("alex") == "alex/u"
    assert parse_reference("u:1").repository("") == "u"
    assert parse_reference("bob/u:1").repository("alex") == "bob/u"
    assert parse_reference("e3810a25/u@1").repository("alex") == "alex/u"


MALFORMED = [
    ("", "it is empty"),
    ("ubuntu", "the version is missing"),
    (" ubuntu:1.4", "whitespace"),
    ("ubuntu :1.4", "whitespace"),
    ("ubuntu:", "the tag after ':' is empty"),
    ("ubuntu@", "the version after '@' is empty"),
    (":1.4", "the name is empty"),
    ("@1.4", "the name is empty"),
    ("Ubuntu:1.4", "(use lowercase)"),
    ("ubu ntu:1.4", "whitespace"),
    ("ubuntu_:1.4", "not a valid OCI name component"),
    ("-ubuntu:1.4", "not a valid OCI name component"),
    ("ubuntu:1.4:5", "more than one ':'"),
    ("ubuntu@1.4@5", "more than one '@'"),
    ("ubuntu:1.4@5", "mixes ':' and '@'"),
    ("ubuntu@1.4:5", "mixes ':' and '@'"),
    ("ubuntu:.1", "not a valid OCI tag"),
    ("ubuntu:-1", "not a valid OCI tag"),
    ("ubuntu:" + "1" * 129, "not a valid OCI tag"),
    ("ubuntu:1+2", "not a valid OCI tag"),
    ("alexander4/ubuntu", "the tag is missing"),
    ("/ubuntu:1.4", "the puddle before '/' is empty"),
    ("alex//ubuntu:1.4", "the puddle component is empty"),
    ("alex/:1.4", "the name is empty"),
    ("Alex/ubuntu:1.4", "puddle component 'Alex' is not a valid OCI name component"),
    ("alexander4/ubuntu@1.4", "must be a hex artifact id"),
    ("e3810a2/ubuntu@1.4", "has 7 hex digits; a pinned id needs 8 to 64"),
    ("e" * 65 + "/ubuntu@1.4", "has 65 hex digits"),
    ("sha256:e3810a25/ubuntu@1.4", "without 'sha256:'"),
    ("e3810a25/x/ubuntu@1.4", "exactly one '/'"),
    ("e3810a25/ubuntu:1.4@x", "mixes ':' and '@'"),
    ("e3810a25/@1.4", "the name is empty"),
    ("registry.example.com/ubuntu:1.4", "looks like a registry host"),
    ("localhost:5000/ubuntu:1.4", "looks like a registry host"),
    ("localhost/ubuntu:1.4", "looks like a registry host"),
    ("https://r.example/ubuntu:1.4", "looks like a URL"),
    ("a/" * 130 + "b:1", "longer than 255"),
]


@pytest.mark.parametrize(("text", "fragment"), MALFORMED)
def test_malformed_is_refused_with_reason_and_forms(text: str, fragment: str) -> None:
    with pytest.raises(CuratorError) as info:
        parse_reference(text)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"artifact reference {text!r}: ")
    assert "<hex-artifact-id>/<name>@<version>" in message


def test_non_string_is_refused() -> None:
    with pytest.raises(CuratorError, match="must be a string"):
        parse_reference(42)  # type: ignore[arg-type]


component = st.from_regex(r"[a-z0-9]{1,5}(?:(?:\.|_|__|-{1,2})[a-z0-9]{1,5}){0,2}", fullmatch=True)
tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
hex_id = st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True)


@given(name=component, version=tag, sep=st.sampled_from([":", "@"]))
def test_implicit_forms_roundtrip(name: str, version: str, sep: str) -> None:
    ref = parse_reference(f"{name}{sep}{version}")
    assert ref == ArtifactRef(name, version)
    assert parse_reference(str(ref)) == ref


@given(puddle=st.lists(component, min_size=1, max_size=3), name=component, version=tag)
def test_puddle_form_roundtrips(puddle: list[str], name: str, version: str) -> None:
    if "." in puddle[0]:  # a dotted first component is read as a registry host
        return
    ref = parse_reference(f"{'/'.join(puddle)}/{name}:{version}")
    assert ref == ArtifactRef(name, version, "/".join(puddle))
    assert parse_reference(str(ref)) == ref


@given(artifact_id=hex_id, name=component, version=tag)
def test_pinned_form_roundtrips(artifact_id: str, name: str, version: str) -> None:
    ref = parse_reference(f"{artifact_id}/{name}@{version}")
    assert ref == ArtifactRef(name, version, None, artifact_id)
    assert parse_reference(str(ref)) == ref


@given(st.text(max_size=80))
def test_anything_parses_or_raises_curator_error(text: str) -> None:
    try:
        ref = parse_reference(text)
    except CuratorError as exc:
        assert str(exc).startswith("artifact reference ")
    else:
        assert parse_reference(str(ref)) == ref
