"""Lift the dynamic provider server's cap of four RPCs at a time, for long waits.

The engine runs this provider as ``python -m pulumi.dynamic``, whose gRPC server answers on
``futures.ThreadPoolExecutor(max_workers=4)`` (``main()`` in ``pulumi/dynamic/__main__.py``,
pulumi 3.272). A ``create`` that waits for its guest's boot holds one of those threads for
the whole wait, so 20 VMs booting would wait in five rounds. Nothing in the SDK lets a
provider choose the pool's size, and the server is built before the provider is unpickled.

What a provider can do: every RPC handler runs on one of that pool's worker threads, and a
``ThreadPoolExecutor`` worker thread is started with a weak reference to its executor as its
first argument (CPython's ``concurrent.futures.thread``). From inside a handler we find the
executor that serves us and raise its ``_max_workers``; the executor starts more workers as
new RPCs arrive (it checks the limit on every submit). Both are private details of CPython:
when they are not what we expect, nothing is changed and the server keeps its four threads
(slower, never wrong). Calling it early — in ``check``, which the engine sends for every
resource before any ``create`` — means the creates of one ``up`` all get a thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MAX_PARALLEL_RPCS", "widen_rpc_pool"]

MAX_PARALLEL_RPCS = 64
"""RPCs one provider process serves at once; waits are I/O (polls of libvirt and files)."""


def _serving_executor() -> ThreadPoolExecutor | None:
    args = getattr(threading.current_thread(), "_args", ())
    reference = args[0] if isinstance(args, tuple) and args else None
    executor = reference() if callable(reference) else None
    return executor if isinstance(executor, ThreadPoolExecutor) else None


def widen_rpc_pool(limit: int = MAX_PARALLEL_RPCS) -> bool:
    """Let the thread pool running this call serve ``limit`` calls at once. Returns whether
    this call runs on such a pool (it is then at least ``limit`` wide)."""
    executor = _serving_executor()
    if executor is None:
        return False
    current = getattr(executor, "_max_workers", None)
    if isinstance(current, int) and current < limit:
        executor._max_workers = limit
    return True
