"""examples/database under the harness: the data disk outlives a replace of its VM, is
protected from destroy, and goes only when the protection is lifted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from support.disks import has_marker, write_marker
from support.lab import Lab
from support.world import LOCAL_URI

from pulumi_vigo_vm.testing import HarnessError

from .examples_support import Stack

pytestmark = pytest.mark.libvirt


@pytest.fixture
def database(
    request: pytest.FixtureRequest, conn: libvirt.virConnect, bridge: str
) -> Iterator[Stack]:
    lab = Lab.new(
        "ex", request.node.nodeid, "{kind}-t{digest}", uri=LOCAL_URI, bridge=bridge, conn=conn
    )
    stack = Stack("database", lab, lab.provider_config())
    for key, value in {
        "vmName": stack.vm_name,
        "basePath": str(stack.base),
        "diskSizeGib": "1",
        "dataSizeGib": "1",
        "memoryMib": "128",
        "shutdownTimeoutS": "1",
        "networkBridge": bridge,
        "state": "stopped",
    }.items():
        stack.set(key, value)
    yield from stack.lifetime()


def test_the_data_disk_outlives_a_base_change_and_is_protected_from_destroy(
    database: Stack,
) -> None:
    result = database.up()
    assert result.ops() == {"data": "create", "vm": "create"}
    data = Path(result.outputs["data_disk"])
    assert data == database.images_dir / "disks" / f"{database.vm_name}-data.qcow2"
    assert result.outputs["data_disk_bytes"] == 1024**3
    write_marker(data)

    database.set("basePath", str(database.lab.base("other.qcow2", size="128M")))
    result = database.up()
    assert result.ops() == {"data": "same", "vm": "replace"}
    assert has_marker(data), "the data disk keeps its bytes across a replace of its VM"
    assert database.preview().counts() == {"same": 2}

    with pytest.raises(HarnessError, match="protected"):
        database.destroy()
    assert has_marker(data)

    database.set("protectData", "false")
    database.up()
    assert database.destroy().ops() == {"data": "delete", "vm": "delete"}
    assert not data.exists() and database.domain() is None
