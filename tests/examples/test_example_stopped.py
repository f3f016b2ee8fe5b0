"""examples/stopped under the harness: powered off, on with data intact, off again, destroy."""

from __future__ import annotations

from typing import Any

import pytest
from support.disks import has_marker, sha256, write_marker

from .examples_support import Stack

pytestmark = pytest.mark.libvirt


def _switch(stack: Stack, state: str) -> dict[str, Any]:
    """``pulumi config set state STATE && pulumi up``; then a preview must plan nothing."""
    stack.set("state", state)
    result = stack.up()
    assert result.ops() == {"vm": "update"}, result.summary()
    assert stack.power() == state
    assert result.outputs["observed_state"] == state
    preview = stack.preview()
    assert preview.counts() == {"same": 1}, preview.summary()
    return result.outputs


def test_stopped_then_running_then_stopped_keeps_the_disk(stopped: Stack) -> None:
    base_digest = sha256(stopped.base)

    result = stopped.up()  # no `state` config: the example defaults to stopped

    assert result.ops() == {"vm": "create"}
    assert stopped.power() == "stopped"
    dom = stopped.domain()
    assert dom is not None
    uuid, outputs = dom.UUIDString(), result.outputs
    assert outputs["name"] == stopped.vm_name
    assert outputs["uuid"] == uuid
    assert outputs["observed_state"] == "stopped"
    assert outputs["overlay_path"] == str(stopped.overlay)
    assert stopped.overlay.exists()
    assert stopped.preview().counts() == {"same": 1}

    write_marker(stopped.overlay)

    for state in ("running", "stopped"):
        now = _switch(stopped, state)
        assert has_marker(stopped.overlay), f"overlay data lost when switching to {state}"
        assert (now["uuid"], now["mac_address"]) == (uuid, outputs["mac_address"])
        dom = stopped.domain()
        assert dom is not None and dom.UUIDString() == uuid

    result = stopped.destroy()

    assert result.ops() == {"vm": "delete"}
    assert stopped.domain() is None
    assert not stopped.overlay.exists()
    assert list(stopped.images_dir.iterdir()) == []
    assert sha256(stopped.base) == base_digest
