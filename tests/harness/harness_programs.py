"""Pulumi programs used by the harness tests, parameterised through stack config.

``test:files`` holds a JSON list of resources; each item has ``name`` (logical name) and the
file provider's inputs, plus harness-test options: ``secret`` (pass ``content`` and
``secret_value`` as ``Output.secret``), ``after`` (make ``content`` depend on another resource's
``path`` output), ``delete_before_replace`` (the resource option), ``plain`` (use the provider
without ``diff``), ``parent`` (the name of a group to parent it to), ``aliases`` (a list of alias
specs, see :func:`_alias`), ``name_after`` (make ``filename`` ``<other's filename>.dep``, a
replacing property depending on another resource).

``test:groups`` (optional) holds a JSON list of components (:class:`Group`), each with ``name``
and optional ``aliases``; they are registered first. ``test:legacy_aliases`` set to ``1`` makes
the SDK behave as with a monitor lacking the ``aliasSpecs`` feature, so it sends ``aliasURNs``.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from harness_fileprovider import File, Group, PlainFile
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2


def _alias(spec: dict[str, Any], groups: dict[str, Group]) -> str | pulumi.Alias:
    """An alias from its JSON spec: ``{"urn": ...}`` is a URN alias; else the ``name``,
    ``type``, ``stack``, ``project`` and ``parent`` (a group's name, or ``null`` for the root
    stack) given become ``pulumi.Alias`` arguments."""
    if "urn" in spec:
        return str(spec["urn"])
    kwargs: dict[str, Any] = {}
    for key, arg in (
        ("name", "name"),
        ("type", "type_"),
        ("stack", "stack"),
        ("project", "project"),
    ):
        if key in spec:
            kwargs[arg] = spec[key]
    if "parent" in spec:
        kwargs["parent"] = groups[spec["parent"]] if spec["parent"] else pulumi.ROOT_STACK_RESOURCE
    return pulumi.Alias(**kwargs)


def files_program() -> None:
    """Register the files described by ``test:files``; export their paths and a count."""
    config = pulumi.Config("test")
    items: list[dict[str, Any]] = json.loads(config.require("files"))
    common = {"dir": config.require("dir"), "log": config.require("log")}
    if config.get("legacy_aliases") == "1":
        feature = resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS
        settings.SETTINGS.monitor_features = settings.SETTINGS.monitor_features - {feature}
    groups: dict[str, Group] = {}
    for group in json.loads(config.get("groups") or "[]"):
        aliases = [_alias(a, groups) for a in group.get("aliases", [])]
        groups[group["name"]] = Group(group["name"], pulumi.ResourceOptions(aliases=aliases))
    made: dict[str, File | PlainFile] = {}
    for item in items:
        item = dict(item)
        name = item.pop("name")
        secret = item.pop("secret", False)
        after = item.pop("after", None)
        dbr = item.pop("delete_before_replace", None)
        kind = PlainFile if item.pop("plain", False) else File
        parent = groups[item.pop("parent")] if "parent" in item else None
        aliases = [_alias(a, groups) for a in item.pop("aliases", [])]
        name_after = item.pop("name_after", None)
        props: dict[str, Any] = {**common, **item}
        if secret:
            props["secret_value"] = pulumi.Output.secret(props["secret_value"])
        if after:
            prefix = props["content"]
            props["content"] = made[after].path.apply(lambda p, prefix=prefix: f"{prefix}:{p}")
        if name_after:
            props["filename"] = made[name_after].filename.apply(lambda f: f"{f}.dep")
        opts = pulumi.ResourceOptions(delete_before_replace=dbr, parent=parent, aliases=aliases)
        made[name] = kind(name, props, opts)
    pulumi.export("count", len(made))
    pulumi.export("paths", {name: res.path for name, res in made.items()})
    pulumi.export("uri", config.get("uri") or pulumi.Config("vigo").get("uri"))
    if any(item.get("secret") for item in items):
        pulumi.export("password", pulumi.Output.secret("hunter22"))


def failing_program() -> None:
    """Register one file, then fail."""
    files_program()
    raise ValueError("the program is broken on purpose")
