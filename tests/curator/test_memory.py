"""A few-hundred-MB image is streamed, never held: peak RSS stays far below its size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.registry import Registry

SIZE = 320 << 20

# The child's peak is read from /proc/self/status (VmHWM: this process image's own high-water
# mark). getrusage's ru_maxrss would not do: Linux carries the forking parent's RSS across
# exec into it, so a large pytest process (a full run) made a streaming child look 330 MiB.
CHILD = """
import sys
from pulumi_vigo_vm.curator.materialise import materialise
from pulumi_vigo_vm.curator.push import push_generic
from pulumi_vigo_vm.curator.reference import parse_reference
from pulumi_vigo_vm.curator.resolve import resolve
from pulumi_vigo_vm.curator.store import open_store
from pulumi_vigo_vm.hosts.local import LocalHost
curator, image, root = sys.argv[1:4]
push_generic(open_store(curator), parse_reference("big:1"), image, "mem")
resolved = resolve("big:1", curator, "mem", "linux-amd64")
path = materialise(LocalHost(), resolved, root)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(path, int(hwm.split()[1]) // 1024)
"""


def test_large_image_streams_with_flat_memory(registry: Registry, tmp_path: Path) -> None:
    image = tmp_path / "big.raw"
    with open(image, "wb") as out:  # sparse: costs no disk or time to make
        out.truncate(SIZE)
    root = tmp_path / "artifacts"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, registry.location, str(image), str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    path, peak_mib = proc.stdout.split()
    assert Path(path).stat().st_size == SIZE
    assert int(peak_mib) < 160, f"peak RSS {peak_mib} MiB for a {SIZE >> 20} MiB image"
