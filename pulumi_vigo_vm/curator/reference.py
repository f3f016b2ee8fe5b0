"""Parse the ``artifact`` input into an :class:`ArtifactRef`. Pure: no I/O, no config.

Four forms are accepted, and nothing else::

    <name>:<tag>                          ubuntu-22.04-cloud:1.4         (implicit puddle)
    <name>@<version>                      ubuntu-22.04-cloud@1.4         (implicit puddle)
    <puddle>/<name>:<tag>                 alexander4/ubuntu-22.04-cloud:1.4
    <hex-artifact-id>/<name>@<version>    e3810a25/ubuntu-22.04-cloud@1.4 (pinned)

Tags and versions are the same thing (an OCI tag); ``@`` and ``:`` differ only in which
forms they may appear. A pinned artifact id is a unique hex prefix (8 to 64 characters) of
the sha256 of the artifact's manifest. The grammar of names and tags is the OCI
distribution spec's, so anything parsed here is a valid repository path and tag on any
registry; errors say which form was expected and which part is wrong, because this text
is typed by people into Pulumi programs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CuratorError

__all__ = ["FORMS", "ArtifactRef", "parse_reference"]

#: The accepted forms, quoted in every error so the fix is on screen.
FORMS = (
    "<name>:<tag>, <name>@<version>, <puddle>/<name>:<tag> or <hex-artifact-id>/<name>@<version>"
)

# OCI distribution spec: a path component, and a tag.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_MIN_ID, _MAX_ID = 8, 64
_MAX_REPOSITORY = 255


@dataclass(frozen=True)
class ArtifactRef:
    """A parsed artifact reference.

    ``puddle`` is None when the reference leaves it to ``vigo:puddle``; ``artifact_id`` is a
    lowercase hex prefix when the reference is pinned, else None.
    """

    name: str
    version: str
    puddle: str | None = None
    artifact_id: str | None = None

    def repository(self, default_puddle: str) -> str:
        """The OCI repository path: ``<puddle>/<name>``, or ``<name>`` for an empty puddle."""
        puddle = self.puddle if self.puddle is not None else default_puddle
        return f"{puddle}/{self.name}" if puddle else self.name

    def __str__(self) -> str:
        if self.artifact_id is not None:
            return f"{self.artifact_id}/{self.name}@{self.version}"
        if self.puddle is not None:
            return f"{self.puddle}/{self.name}:{self.version}"
        return f"{self.name}:{self.version}"


def _fail(text: str, why: str) -> CuratorError:
    return CuratorError(f"artifact reference {text!r}: {why}; expected {FORMS}")


def _check_name(text: str, name: str, what: str) -> None:
    if not name:
        raise _fail(text, f"the {what} is empty")
    if not _COMPONENT.fullmatch(name):
        hint = " (use lowercase)" if _COMPONENT.fullmatch(name.lower()) else ""
        raise _fail(
            text,
            f"{what} {name!r} is not a valid OCI name component{hint}: lowercase letters and "
            f"digits, separated by '.', '_', '__' or '-', starting and ending alphanumeric",
        )


def _check_puddle(text: str, puddle: str) -> None:
    if not puddle:
        raise _fail(text, "the puddle before '/' is empty")
    parts = puddle.split("/")
    first = parts[0]
    # Docker's rule: a first component with '.' or ':' (or "localhost") names a registry.
    if ":" in first or "." in first or first == "localhost":
        raise _fail(
            text,
            f"{first!r} looks like a registry host; the registry belongs in vigo:curator, "
            f"not in the reference",
        )
    for part in parts:
        _check_name(text, part, "puddle component")


def _check_version(text: str, version: str, sep: str) -> None:
    word = "tag" if sep == ":" else "version"
    if not version:
        raise _fail(text, f"the {word} after {sep!r} is empty")
    if not _TAG.fullmatch(version):
        raise _fail(
            text,
            f"{word} {version!r} is not a valid OCI tag: 1 to 128 of letters, digits, '_', "
            f"'.', '-', not starting with '.' or '-'",
        )


def _check_artifact_id(text: str, artifact_id: str) -> str:
    if artifact_id.startswith("sha256:"):
        raise _fail(text, "write the artifact id as bare hex, without 'sha256:'")
    if not _HEX.fullmatch(artifact_id):
        raise _fail(
            text,
            f"{artifact_id!r} before '/' in a '@' reference must be a hex artifact id "
            f"(the pinned form); for a puddle write {artifact_id}/<name>:<tag>",
        )
    if not _MIN_ID <= len(artifact_id) <= _MAX_ID:
        raise _fail(
            text,
            f"artifact id {artifact_id!r} has {len(artifact_id)} hex digits; a pinned id needs "
            f"{_MIN_ID} to {_MAX_ID}",
        )
    return artifact_id.lower()


def _split_name(text: str, rest: str, sep: str) -> tuple[str, str]:
    name, _, version = rest.partition(sep)
    other = "@" if sep == ":" else ":"
    if other in version or other in name:
        raise _fail(text, f"it mixes ':' and '@'; this form takes only {sep!r}")
    if sep in version:
        raise _fail(text, f"it has more than one {sep!r}")
    _check_name(text, name, "name")
    _check_version(text, version, sep)
    return name, version


def parse_reference(text: str) -> ArtifactRef:
    """Parse one of the four reference forms; raise CuratorError naming the fault otherwise."""
    if not isinstance(text, str):
        raise CuratorError(f"artifact reference must be a string, got {type(text).__name__}")
    if not text:
        raise _fail(text, "it is empty")
    if text != text.strip() or any(c.isspace() for c in text):
        raise _fail(text, "it contains whitespace")
    if "://" in text:
        raise _fail(text, "it looks like a URL; the registry belongs in vigo:curator")

    if "/" in text and "@" in text:
        artifact_id, _, rest = text.partition("/")
        if "/" in rest:
            raise _fail(text, "a pinned reference has exactly one '/' (<hex-artifact-id>/...)")
        artifact_id = _check_artifact_id(text, artifact_id)
        name, version = _split_name(text, rest, "@")
        return ArtifactRef(name, version, None, artifact_id)
    if "/" in text:
        puddle, _, rest = text.rpartition("/")
        _check_puddle(text, puddle)
        if ":" not in rest:
            raise _fail(text, "the tag is missing: add ':<tag>' after the name")
        name, version = _split_name(text, rest, ":")
        if len(puddle) + 1 + len(name) > _MAX_REPOSITORY:
            raise _fail(text, f"<puddle>/<name> is longer than {_MAX_REPOSITORY} characters")
        return ArtifactRef(name, version, puddle, None)
    if "@" in text:
        name, version = _split_name(text, text, "@")
        return ArtifactRef(name, version)
    if ":" in text:
        name, version = _split_name(text, text, ":")
        return ArtifactRef(name, version)
    raise _fail(text, "the version is missing: add ':<tag>' or '@<version>' after the name")
