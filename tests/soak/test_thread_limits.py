"""A provider process that may not start many threads still serves every call (issue 22).

``widen_rpc_pool`` (the first call of a VigoVm: its provider configured) starts 60 more
workers in the gRPC server's thread pool. Where the process may not start them (an
address-space limit, as a small host or a container sets), the ``Check`` failed with
``can't start new thread`` and the pool was left claiming 64 workers: the server's next
``submit`` tried to start one, raised, and ended the server's only serving thread. The
process lived on and answered
nothing, so every later call hung (here: hit its deadline).

Real parts: a ``python -m pulumi.dynamic`` process serving the package, given a real
``RLIMIT_AS`` (:func:`resource.prlimit`) once the package is loaded, so that a few threads
more can start and sixty cannot."""

from __future__ import annotations

import os
import resource
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from support.world import LOCAL_URI

from pulumi_vigo_vm.disk.provider import DiskProvider
from pulumi_vigo_vm.dynamic import lastwords
from pulumi_vigo_vm.provider import VmProvider
from pulumi_vigo_vm.testing import props
from pulumi_vigo_vm.testing.providerhost import DynamicProviderHost

from .fleet import PROGRAM

pytestmark = pytest.mark.libvirt

VM_URN = "urn:pulumi:dev::soak::pulumi-python:dynamic/vigo:VigoVm::vm{}"
DISK_URN = "urn:pulumi:dev::soak::pulumi-python:dynamic/vigo:VigoDisk::data{}"
HEADROOM = 96 * 1024 * 1024
"""Address space allowed beyond what the loaded provider uses: a few 8 MiB thread stacks,
not sixty."""
RPC_DEADLINE_S = 60.0


def _address_space(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_a_provider_that_cannot_start_sixty_threads_keeps_serving(tmp_path: Path) -> None:
    config = {"vigo:uri": LOCAL_URI, "vigo:domainType": "qemu", "vigo:imagesDir": str(tmp_path)}
    env = {**os.environ, lastwords.ENV_DIR: str(tmp_path / "logs")}
    host = DynamicProviderHost(config=config, env=env, cwd=str(PROGRAM), rpc_timeout=RPC_DEADLINE_S)
    host.start()
    try:
        disk_blob, vm_blob = serialize_provider(DiskProvider()), serialize_provider(VmProvider())

        def check_disk(i: int) -> None:
            news = {"name": f"soak-data{i}", "size_gib": 1, props.PROVIDER_KEY: disk_blob}
            host.check(DISK_URN.format(i), {}, news)

        def check_vm(i: int) -> None:
            news = {"vm_name": f"soak-vm{i}", "memory_mib": 64, props.PROVIDER_KEY: vm_blob}
            host.check(VM_URN.format(i), {}, news)

        check_disk(0)  # the package is loaded: what it needs is mapped
        proc = host._proc
        assert proc is not None
        limit = _address_space(proc.pid) + HEADROOM
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (limit, limit))

        check_vm(0)  # widens the pool as far as threads start; before: can't start new thread
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(check_disk, range(1, 33)))  # before: deadline exceeded, each
            list(pool.map(check_vm, range(1, 9)))

        assert proc.poll() is None
        logs = [p.read_text() for p in (tmp_path / "logs").iterdir()]
        assert logs == [""], "no thread of the provider died"
    finally:
        host.close()
