"""A tiny but real dynamic provider for testing the engine harness: it manages files.

Every effect it has on the world is appended, as one JSON line, to the ``log`` file named in the
inputs, so tests can assert the order of real effects (delete-before-create vs create-before-
delete), what types the provider received (floats for numbers, plain strings for secrets) and
how many calls overlapped in time.

Inputs: ``dir`` and ``filename`` (changing either forces a replacement), ``content`` (updated in
place), optional ``size`` (a number), ``secret_value``, ``delay`` (seconds to sleep in create),
``fail_on_create`` (raise instead of creating), ``dbr`` (ask for delete-before-replace),
``log_diffs`` (log each ``diff`` call with what it was given, to prove which old state it saw)
and ``peek`` (``[source, copy]``: ``check`` copies the file ``source`` to ``copy``, to show a
test the checkpoint on disk as this resource's step starts). ``diff`` ignores other inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

import pulumi
import pulumi.dynamic as dyn

REPLACE_KEYS = ("dir", "filename")
UPDATE_KEYS = ("content", "size", "secret_value")


def _log(props: dict[str, Any], op: str, **extra: Any) -> None:
    entry = {"op": op, "filename": props.get("filename"), "pid": os.getpid(), **extra}
    with open(props["log"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


class FileProvider(dyn.ResourceProvider):
    """Creates ``dir/filename`` holding ``content``."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        failures = []
        if not news.get("content"):
            failures.append(dyn.CheckFailure("content", "content must be a non-empty string"))
        filename = news.get("filename")
        if not isinstance(filename, str) or "/" in filename:
            failures.append(dyn.CheckFailure("filename", "filename must be a plain file name"))
        if news.get("peek"):
            source, copy = news["peek"]
            shutil.copyfile(source, copy)
        checked = dict(news)
        checked.setdefault("mode", "0644")  # a default, recomputed by Check
        return dyn.CheckResult(checked, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        changed = [k for k in UPDATE_KEYS if olds.get(k) != news.get(k)]
        if news.get("log_diffs"):
            _log(news, "diff", id=id_, olds=sorted(olds), old_path=olds.get("path"))
        return dyn.DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            delete_before_replace=bool(news.get("dbr")),
        )

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        start = time.monotonic()
        if props.get("delay"):
            time.sleep(float(props["delay"]))
        if props.get("fail_on_create"):
            _log(props, "create-failed")
            raise RuntimeError(f"refusing to create {props['filename']} (fail_on_create)")
        path = os.path.join(props["dir"], props["filename"])
        if os.path.exists(path):
            raise RuntimeError(f"{path} already exists")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(props["content"])
        _log(
            props,
            "create",
            t0=start,
            t1=time.monotonic(),
            types={k: type(v).__name__ for k, v in props.items() if k != "__provider"},
            secret_value=props.get("secret_value"),
        )
        return dyn.CreateResult(path, {**props, "path": path, "written": len(props["content"])})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        with open(id_, "w", encoding="utf-8") as handle:
            handle.write(news["content"])
        _log(news, "update", old_content=olds.get("content"))
        return dyn.UpdateResult({**news, "path": id_, "written": len(news["content"])})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if os.path.exists(id_):
            os.remove(id_)
        _log(props, "delete", path=id_)

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        if not os.path.exists(id_):
            return dyn.ReadResult("", {})
        with open(id_, encoding="utf-8") as handle:
            content = handle.read()
        return dyn.ReadResult(id_, {**props, "content": content, "written": len(content)})


class File(dyn.Resource, module="harness", name="File"):
    """A file managed by :class:`FileProvider`."""

    path: pulumi.Output[str]
    written: pulumi.Output[float]
    content: pulumi.Output[str]
    filename: pulumi.Output[str]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(FileProvider(), name, {"path": None, "written": None, **props}, opts)


class PlainFileProvider(FileProvider):
    """Like :class:`FileProvider` but without ``diff``: the SDK answers DIFF_UNKNOWN."""

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        return dyn.ResourceProvider.diff(self, id_, olds, news)


class PlainFile(dyn.Resource, module="harness", name="PlainFile"):
    """A file managed by :class:`PlainFileProvider`."""

    path: pulumi.Output[str]
    filename: pulumi.Output[str]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(PlainFileProvider(), name, {"path": None, **props}, opts)


class Group(pulumi.ComponentResource):
    """A component to parent files under (type ``harness:index:Group``)."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("harness:index:Group", name, None, opts)
