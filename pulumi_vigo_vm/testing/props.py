"""Property values in the engine's wire form, and the engine's rules for them.

The harness keeps every property bag exactly as it travels over gRPC (a ``google.protobuf.Struct``
turned into plain JSON-compatible Python): numbers are floats, a secret is the object
``{SIG_KEY: SECRET_SIG, "value": ...}`` and an unknown (preview only) is the string ``UNKNOWN``.
Staying in that form, instead of deserialising into SDK objects, is what lets the harness reproduce
the engine byte for byte: the same bag can be written to the state file, handed back to the
program (which understands secrets) or, with secrets stripped, to a provider that answered
``acceptSecrets=False`` in ``Configure`` (every dynamic provider does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

SIG_KEY: str = rpc._special_sig_key
"""The signature key marking special objects (secrets, assets, resource references)."""
SECRET_SIG: str = rpc._special_secret_sig
"""The signature value marking a secret."""
UNKNOWN: str = rpc.UNKNOWN
"""The sentinel the engine uses for values that are not known during a preview."""
PROVIDER_KEY = "__provider"
"""The input holding the dill-pickled dynamic provider (always a secret)."""

PropertyMap: TypeAlias = dict[str, Any]
"""A property bag in wire form."""

SECRET_PLACEHOLDER = "[secret]"


def from_struct(struct: struct_pb2.Struct | None) -> PropertyMap:
    """Convert a protobuf ``Struct`` to wire form without any reinterpretation.

    ``json_format.MessageToDict`` is deliberately not used: it may turn integral floats into
    ints, and the point of the harness is to show providers exactly what the engine sends.
    """
    if struct is None:
        return {}
    return {key: _from_value(value) for key, value in struct.fields.items()}


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [_from_value(item) for item in value.list_value.values]
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return bool(value.bool_value)
    return None


@dataclass(frozen=True)
class Secret:
    """Wrap a property value to send it marked secret, as the engine does (KeepSecrets).

    :func:`to_struct` turns it into the wire form ``{SIG_KEY: SECRET_SIG, "value": ...}``.
    """

    value: Any


def _marshal(value: Any) -> Any:
    """``value`` in wire form: :class:`Secret` wrappers marked, mappings and tuples plain."""
    if isinstance(value, Secret):
        return {SIG_KEY: SECRET_SIG, "value": _marshal(value.value)}
    if isinstance(value, Mapping):
        return {str(k): _marshal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_marshal(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Convert a bag to a protobuf ``Struct`` (ints become floats, as on the wire).

    A wire-form bag passes unchanged; a :class:`Secret` anywhere inside is sent marked secret
    and :data:`UNKNOWN` is sent as the engine sends an unknown (its sentinel string).
    """
    struct = struct_pb2.Struct()
    struct.update(_marshal(props))
    return struct


def is_secret(value: Any) -> bool:
    """Whether ``value`` is a secret wrapper."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def make_secret(value: Any) -> Any:
    """Wrap ``value`` as a secret (idempotent)."""
    if is_secret(value):
        return value
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_plain_object(value: Any) -> bool:
    """Whether ``value`` is an ordinary object (not a secret, asset or resource reference)."""
    return isinstance(value, dict) and SIG_KEY not in value


def _contains(value: Any, found: Callable[[Any], bool]) -> bool:
    """Whether ``found`` holds for ``value`` or anything inside its objects and lists."""
    if found(value):
        return True
    if isinstance(value, dict):
        return any(_contains(v, found) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, found) for v in value)
    return False


def contains_secret(value: Any) -> bool:
    """Whether a secret appears anywhere inside ``value``."""
    return _contains(value, is_secret)


def contains_unknown(value: Any) -> bool:
    """Whether an unknown appears anywhere inside ``value``."""
    return _contains(value, lambda v: v == UNKNOWN)


def unwrap_secrets(value: Any) -> Any:
    """Remove every secret wrapper, keeping the plaintext.

    This is what the engine does (``MarshalOptions{KeepSecrets: false}``) before calling a
    provider that does not accept secrets.
    """
    if is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def secret_keys(props: Mapping[str, Any]) -> list[str]:
    """Top-level keys whose value is or contains a secret, sorted."""
    return sorted(k for k, v in props.items() if contains_secret(v))


def annotate_secrets(outs: Mapping[str, Any], ins: Mapping[str, Any]) -> PropertyMap:
    """Carry secretness from inputs to same-named outputs.

    Mirrors the engine's ``annotateSecrets`` (sdk/go/common/resource/plugin/provider_plugin.go),
    applied to Check, Create, Update and Read results of providers that do not accept secrets:
    objects present on both sides are handled recursively; otherwise an output whose input
    contained a secret is itself marked secret.
    """
    result: PropertyMap = dict(outs)
    for key, in_value in ins.items():
        if key not in result:
            continue
        out_value = result[key]
        if is_plain_object(out_value) and is_plain_object(in_value):
            result[key] = annotate_secrets(out_value, in_value)
        elif not is_secret(out_value) and contains_secret(in_value):
            result[key] = make_secret(out_value)
    return result


def mark_secret_keys(props: Mapping[str, Any], keys: Iterable[str]) -> PropertyMap:
    """Mark the given top-level keys secret (``additionalSecretOutputs``)."""
    result: PropertyMap = dict(props)
    for key in keys:
        if key in result:
            result[key] = make_secret(result[key])
    return result


def secret_strings(*bags: Any) -> set[str]:
    """Every string found under a secret in the given values (for redacting messages)."""
    found: set[str] = set()

    def walk(value: Any, under_secret: bool) -> None:
        if is_secret(value):
            walk(value.get("value"), True)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, under_secret)
        elif isinstance(value, list):
            for v in value:
                walk(v, under_secret)
        elif under_secret and isinstance(value, str) and len(value) >= 3:
            found.add(value)

    for bag in bags:
        walk(bag, False)
    return found


def redact(message: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret plaintext in ``message`` by ``[secret]``.

    Provider tracebacks are free text and may quote property values; the engine would show them
    to the user, but a harness whose output lands in CI logs should not leak them.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, SECRET_PLACEHOLDER)
    return message


def deep_equals(old: Any, new: Any) -> bool:
    """Whether two wire-form values are equal by the engine's ``PropertyValue.DeepEquals``
    (sdk/go/common/resource/properties_diff.go), which decides whether a checkpoint changed.

    Unlike ``==``: in an object a key holding null equals a missing key, and a bool never
    equals a number (Go compares the dynamic types; Python has ``True == 1.0``). A secret is
    an object here (its signature and ``value``), so it equals a secret of an equal value and
    never a plain value; assets and resource references compare as their wire objects.
    """
    if isinstance(old, dict) or isinstance(new, dict):
        if not (isinstance(old, dict) and isinstance(new, dict)):
            return False
        return all(deep_equals(old.get(key), new.get(key)) for key in old.keys() | new.keys())
    if isinstance(old, list) or isinstance(new, list):
        if not (isinstance(old, list) and isinstance(new, list)) or len(old) != len(new):
            return False
        return all(deep_equals(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    return bool(old == new)


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Top-level keys whose (secret-unwrapped) values differ, sorted; what ``pulumi`` displays."""
    keys = set(olds) | set(news)
    return sorted(
        k
        for k in keys
        if k not in olds or k not in news or unwrap_secrets(olds[k]) != unwrap_secrets(news[k])
    )


def display(value: Any) -> Any:
    """A copy of ``value`` safe to print: secrets masked, unknowns spelled out."""
    if is_secret(value):
        return SECRET_PLACEHOLDER
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, dict):
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only floats; show 2, not 2.0, like the CLI
    return value
