"""A booted guest's files and commands through the qemu guest agent, over libvirt on the
host that runs the guest: how e2e tests write and read inside a guest without ever opening
a connection to its address. What the agent returns is the guest's word: tests compare it,
never execute it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import libvirt
import libvirt_qemu
import pytest

from .support import BOOT_TIMEOUT_S

AGENT_TIMEOUT_S = 30


def command(domain: libvirt.virDomain, execute: str, **arguments: Any) -> Any:
    """One agent command; its ``return``."""
    request = json.dumps({"execute": execute, "arguments": arguments})
    reply = libvirt_qemu.qemuAgentCommand(domain, request, AGENT_TIMEOUT_S, 0)
    return json.loads(reply)["return"]


def wait_until_answers(domain: libvirt.virDomain) -> None:
    """Until the agent answers: at boot, after a revert or a move (libvirt reconnects)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while True:
        try:
            command(domain, "guest-ping")
            return
        except libvirt.libvirtError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"the guest agent did not answer within {BOOT_TIMEOUT_S} s: {exc}")
        time.sleep(2)


def read_file(domain: libvirt.virDomain, path: str) -> str | None:
    """``path``'s text as the guest reads it; None when the guest has no such file."""
    try:
        handle = command(domain, "guest-file-open", path=path, mode="r")
    except libvirt.libvirtError as exc:
        assert "No such file" in str(exc), exc
        return None
    read = command(domain, "guest-file-read", handle=handle, count=4096)
    command(domain, "guest-file-close", handle=handle)
    return base64.b64decode(read["buf-b64"]).decode()


def write_file(domain: libvirt.virDomain, path: str, text: str) -> None:
    """Write ``path`` in the guest and sync it to the guest's disk."""
    handle = command(domain, "guest-file-open", path=path, mode="w")
    encoded = base64.b64encode(text.encode()).decode()
    command(domain, "guest-file-write", handle=handle, **{"buf-b64": encoded})
    command(domain, "guest-file-flush", handle=handle)
    command(domain, "guest-file-close", handle=handle)
    run(domain, "/bin/sync")


def run(domain: libvirt.virDomain, path: str, *args: str) -> None:
    """``path args...`` run in the guest (guest-exec), waited for; it must exit 0."""
    pid = command(domain, "guest-exec", path=path, arg=list(args))["pid"]
    deadline = time.monotonic() + AGENT_TIMEOUT_S
    while not (status := command(domain, "guest-exec-status", pid=pid))["exited"]:
        assert time.monotonic() < deadline, f"{path} did not end in the guest"
        time.sleep(0.5)
    assert status["exitcode"] == 0, status
