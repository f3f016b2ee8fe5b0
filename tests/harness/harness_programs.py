"""Pulumi programs used by the harness tests, parameterised through stack config.

``test:files`` holds a JSON list of resources; each item has ``name`` (logical name) and the
file provider's inputs, plus harness-test options: ``secret`` (pass ``content`` and
``secret_value`` as ``Output.secret``), ``after`` (make ``content`` depend on another resource's
``path`` output), ``delete_before_replace`` (the resource option), ``plain`` (use the provider
without ``diff``).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from harness_fileprovider import File, PlainFile


def files_program() -> None:
    """Register the files described by ``test:files``; export their paths and a count."""
    config = pulumi.Config("test")
    items: list[dict[str, Any]] = json.loads(config.require("files"))
    common = {"dir": config.require("dir"), "log": config.require("log")}
    made: dict[str, File | PlainFile] = {}
    for item in items:
        item = dict(item)
        name = item.pop("name")
        secret = item.pop("secret", False)
        after = item.pop("after", None)
        dbr = item.pop("delete_before_replace", None)
        kind = PlainFile if item.pop("plain", False) else File
        props: dict[str, Any] = {**common, **item}
        if secret:
            props["secret_value"] = pulumi.Output.secret(props["secret_value"])
        if after:
            prefix = props["content"]
            props["content"] = made[after].path.apply(lambda p, prefix=prefix: f"{prefix}:{p}")
        made[name] = kind(name, props, pulumi.ResourceOptions(delete_before_replace=dbr))
    pulumi.export("count", len(made))
    pulumi.export("paths", {name: res.path for name, res in made.items()})
    pulumi.export("uri", config.get("uri") or pulumi.Config("vigo").get("uri"))
    if any(item.get("secret") for item in items):
        pulumi.export("password", pulumi.Output.secret("hunter22"))


def failing_program() -> None:
    """Register one file, then fail."""
    files_program()
    raise ValueError("the program is broken on purpose")
