"""The CLI's ``--policy-pack-config`` rules: which level and properties each policy gets.

Why a module of its own: what the Pulumi CLI sends in ``Configure`` is a rule of its own,
independent of running a pack. Every policy is configured (not only the ones named), the
schema's defaults are filled in, ``"all"`` sets every level, and a policy's entry, a level
name or an object of level and properties, overrides both. :class:`~.policy.PolicyRunner`
builds its request with :func:`configure_request`; the level names are shared with
:mod:`.diagnostics`, which reads them back from the pack's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from .props import to_struct

if TYPE_CHECKING:
    Level: TypeAlias = analyzer_pb2.EnforcementLevel.ValueType

__all__ = ["LEVEL_NAMES", "configure_request", "policy_config"]

LEVEL_NAMES: Final[dict[Level, str]] = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
"""Each enforcement level's proto value and the name the CLI's config and output use."""
_LEVEL_VALUES: Final[dict[str, Level]] = {name: value for value, name in LEVEL_NAMES.items()}


def configure_request(
    info: analyzer_pb2.AnalyzerInfo, config: Mapping[str, Any]
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """The ``Configure`` request the CLI sends a pack described by ``info`` for ``config``."""
    known = {p.name: p for p in info.policies}
    unknown = sorted(set(config) - set(known) - {"all"})
    if unknown:
        raise ValueError(f"config names no such policy: {', '.join(unknown)}")
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, policy in known.items():
        level, properties = policy_config(policy, config)
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=to_struct(properties))
        )
    return request


def _level(value: object) -> Level:
    """An enforcement level name as the proto enum value."""
    if not isinstance(value, str) or value not in _LEVEL_VALUES:
        raise ValueError(f"unknown enforcement level {value!r}; use one of {list(_LEVEL_VALUES)}")
    return _LEVEL_VALUES[value]


def policy_config(
    policy: analyzer_pb2.PolicyInfo, config: Mapping[str, Any]
) -> tuple[Level, dict[str, Any]]:
    """Enforcement level and properties of one policy: schema defaults, then config."""
    schema = json_format.MessageToDict(policy.configSchema.properties)
    properties = {k: v["default"] for k, v in schema.items() if "default" in v}
    level = policy.enforcementLevel
    if "all" in config:
        level = _level(config["all"])
    given = config.get(policy.name)
    if isinstance(given, str):
        level = _level(given)
    elif isinstance(given, Mapping):
        extra = sorted(set(given) - set(schema) - {"enforcementLevel"})
        if extra:
            raise ValueError(f"{policy.name} has no config property {', '.join(extra)}")
        if "enforcementLevel" in given:
            level = _level(given["enforcementLevel"])
        properties.update({k: v for k, v in given.items() if k != "enforcementLevel"})
    elif given is not None:
        raise ValueError(f"config for {policy.name} must be a level or an object")
    return level, properties
