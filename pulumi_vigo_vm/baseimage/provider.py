"""BaseImageProvider: the dynamic provider of VigoBaseImage. Glue only.

Every method parses the property bag into a :class:`~.spec.BaseImageSpec` at its top
(numbers arrive as floats in every method), then asks :mod:`.place`. The provider object
holds only plain data (it is pickled into the program's state): the stack-config defaults
and the download idle timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from ..common.unknown import is_unknown
from ..dynamic.configured import ConfiguredProvider
from ..errors import HostUnreachableError
from ..virt.target import Target
from .place import Context, Found, Placed, chown, describe, ensure, remove, rename_claim, state_of
from .record import new_instance
from .spec import REPLACING_INPUTS, BaseImageSpec, changed_inputs, check_inputs, parse_spec

__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "IDLE_TIMEOUT_KEY", "BaseImageProvider"]


DEFAULT_IDLE_TIMEOUT_S = 60.0
IDLE_TIMEOUT_KEY = "vigo:downloadIdleTimeoutS"
_TYPE = "VigoBaseImage"
_OWNERSHIP = ("owner", "group", "mode")


def _idle_timeout(text: str | None) -> float | str:
    """The configured idle timeout in seconds, or the reason it is refused."""
    if text is None or text == "":
        return DEFAULT_IDLE_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400:
        return f"must be a number of seconds from 1 to 86400, got {text!r}"
    return value


class BaseImageProvider(ConfiguredProvider):
    """Puts one verified base image on a hypervisor. See docs/base-images.md."""

    def __init__(self) -> None:
        super().__init__()
        self._idle_timeout_s: float | str = DEFAULT_IDLE_TIMEOUT_S

    def configure(self, req: ConfigureRequest) -> None:
        """The config defaults, and ``vigo:downloadIdleTimeoutS``."""
        super().configure(req)
        self._idle_timeout_s = _idle_timeout(req.config.get(IDLE_TIMEOUT_KEY))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate every input (and the idle timeout config); never touches a host."""
        inputs, faults = check_inputs(news, self._defaults)
        failures = [CheckFailure(f.property, f.reason) for f in faults]
        if isinstance(self._idle_timeout_s, str):
            failures.append(CheckFailure(IDLE_TIMEOUT_KEY, self._idle_timeout_s))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``path``/``uri`` changes replace (create first); the rest, and a file missing or
        changed on the host, update in place. Never mutates."""
        unknown = [key for key, value in news.items() if is_unknown(value)]
        if unknown:
            replaces = [key for key in unknown if key in REPLACING_INPUTS]
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        old, new = self._parse(olds), self._parse(news)
        changed = changed_inputs(old, new)
        replaces = [name for name in changed if name in REPLACING_INPUTS]
        drifted = False
        if not replaces:
            try:
                drifted = state_of(Target.for_uri(new.uri).host, new) is not Found.CURRENT
            except HostUnreachableError as exc:
                pulumi.log.warn(f"{_label(new)}: host not reachable, diffing inputs only: {exc}")
        return DiffResult(
            changes=bool(changed) or drifted, replaces=replaces, delete_before_replace=False
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Download, verify and place the image (or adopt the same image found there)."""
        spec = self._parse(props)
        instance = new_instance()  # the ID: tells this instance's file from a replacement's
        placed = ensure(Target.for_uri(spec.uri), spec, self._context(spec), instance)
        return CreateResult(instance, _outputs(spec, placed))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """New content in place (refused while a domain uses the file), new owner/mode."""
        old, new = self._parse(olds), self._parse(news)
        target = Target.for_uri(new.uri)
        changed = changed_inputs(old, new)
        if "claim" in changed:
            rename_claim(target.host, new, old.claim)
        placed = ensure(target, new, self._context(new), id_)
        if any(name in changed for name in _OWNERSHIP):
            chown(target.host, new.path, new)
        return UpdateResult(_outputs(new, placed))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Remove the file when our claim names it and this instance placed it; refused
        while a domain uses it."""
        spec = self._parse(props)
        target = Target.for_uri(spec.uri)
        if not remove(target, spec, id_) and target.host.stat(spec.path) is not None:
            pulumi.log.warn(
                f"{_label(spec)}: {spec.path} is not this instance's (another resource's, or "
                "the replacement's); left in place"
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: gone when the file is; owner, group or mode drift is reported (libvirt's
        security driver may chown a base when a VM starts), never fought."""
        spec = self._parse(props)
        host = Target.for_uri(spec.uri).host
        if host.stat(spec.path) is None:
            return ReadResult(None, {})
        result = host.run(["stat", "-c", "%U %G %a", "--", spec.path], check=False, timeout=30)
        live = result.stdout.split()
        declared = [spec.owner, spec.group, f"{spec.mode:o}"]
        if result.returncode == 0 and live != declared:
            pulumi.log.warn(
                f"{_label(spec)}: {spec.path} is now {' '.join(live)} (declared "
                f"{' '.join(declared)}); left as it is"
            )
        return ReadResult(id_, _outputs(spec, describe(host, spec.path)))

    def _parse(self, props: Mapping[str, Any]) -> BaseImageSpec:
        return parse_spec(props, self._defaults)

    def _context(self, spec: BaseImageSpec) -> Context:
        idle = self._idle_timeout_s
        timeout = idle if isinstance(idle, float) else DEFAULT_IDLE_TIMEOUT_S
        return Context(timeout, _label(spec), pulumi.log.info)


def _label(spec: BaseImageSpec) -> str:
    """``VigoBaseImage <resource name>`` (from the claim's URN), else the path."""
    name = spec.claim.rsplit("::", 1)[-1] if spec.claim else spec.path
    return f"{_TYPE} {name}"


def _outputs(spec: BaseImageSpec, placed: Placed) -> dict[str, Any]:
    """Every input, normalised, and what the file is."""
    return {
        **spec.to_inputs(),
        "format": placed.format,
        "virtual_size_bytes": placed.virtual_size_bytes,
        "size_bytes": placed.size_bytes,
    }
