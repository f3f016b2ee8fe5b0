"""Lift the two caps on how many VMs of one ``up`` can wait for their boot at once.

1. The provider side (:func:`widen_rpc_pool`).

The engine runs this provider as ``python -m pulumi.dynamic``, whose gRPC server answers on
``futures.ThreadPoolExecutor(max_workers=4)`` (``main()`` in ``pulumi/dynamic/__main__.py``,
pulumi 3.272). A ``create`` that waits for its guest's boot holds one of those threads for
the whole wait, so 20 VMs booting would wait in five rounds. Nothing in the SDK lets a
provider choose the pool's size, and the server is built before the provider is unpickled.

What a provider can do: every RPC handler runs on one of that pool's worker threads, and a
``ThreadPoolExecutor`` worker thread is started with a weak reference to its executor as its
first argument (CPython's ``concurrent.futures.thread``). From inside a handler we find the
executor that serves us and raise its ``_max_workers``; the executor starts more workers as
new RPCs arrive — or, as done here, starts them at once (see :func:`_start_workers`). Both
are private details of CPython:
when they are not what we expect, nothing is changed and the server keeps its four threads
(slower, never wrong). It is called when the process configures the VM provider
(``VmProvider.configure``), inside the first RPC of every verb: the creates of one ``up``
all get a thread, and so do the deletes of a ``destroy`` (which sends no ``check``).

2. The program side (:func:`widen_program_registrations`). The Python SDK sends each
``RegisterResource`` with ``loop.run_in_executor(None, ...)`` (``pulumi/runtime/resource.py``)
and the call returns only when the engine has finished that resource's step, wait
included. The loop's default executor is asyncio's own, ``min(32, cpus + 4)`` threads: six
on a two-core runner, so at most six VMs would be created (and wait) at once. When a VigoVm
is declared, the program's loop gets a default executor of :data:`MAX_PARALLEL_RPCS`
threads, unless it already has a wider one. The engine's ``--parallel`` still bounds the
steps it runs at once; that one is the user's.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MAX_PARALLEL_RPCS", "widen_program_registrations", "widen_rpc_pool"]

MAX_PARALLEL_RPCS = 64
"""RPCs one provider process serves at once; waits are I/O (polls of libvirt and files)."""


def _serving_executor() -> ThreadPoolExecutor | None:
    args = getattr(threading.current_thread(), "_args", ())
    reference = args[0] if isinstance(args, tuple) and args else None
    executor = reference() if callable(reference) else None
    return executor if isinstance(executor, ThreadPoolExecutor) else None


def widen_rpc_pool(limit: int = MAX_PARALLEL_RPCS) -> bool:
    """Let the thread pool running this call serve up to ``limit`` calls at once. Returns
    whether this call runs on such a pool.

    The pool is widened only as far as threads really start: where the process may not
    start them (an address-space or thread limit) it keeps the workers it has, and its
    ``_max_workers`` says so. A ``_max_workers`` above what can start would make the gRPC
    server's own ``submit`` try to start one and raise, which ends the server's serving
    thread: the process would live on and answer nothing (issue 22)."""
    executor = _serving_executor()
    if executor is None:
        return False
    current = getattr(executor, "_max_workers", None)
    lock = getattr(executor, "_shutdown_lock", None)
    if not isinstance(current, int) or current >= limit or lock is None:
        return True
    with lock:  # submit holds it too: it never sees the pool half-widened
        if executor._max_workers >= limit:
            return True  # another call widened it meanwhile
        executor._max_workers = limit
        if not _start_workers(executor, limit):
            executor._max_workers = max(current, len(executor._threads))
    return True


def _start_workers(executor: ThreadPoolExecutor, limit: int) -> bool:
    """Start the pool's idle workers now; False when the process would not start one more
    (the pool then has those that started). A pool starts a worker on submit only when its
    idle count says none is free, and that count is released once per finished task: after
    the quick Checks and Diffs of an ``up`` it overstates, and a burst of Creates would find
    no new worker (measured: 8 Creates, 5 running). Idle workers just wait on the queue.
    The caller holds the pool's ``_shutdown_lock``."""
    adjust = getattr(executor, "_adjust_thread_count", None)
    if not callable(adjust) or not hasattr(executor, "_idle_semaphore"):
        return True
    idle = executor._idle_semaphore
    executor._idle_semaphore = threading.Semaphore(0)  # so each call below starts one
    try:
        for _ in range(limit):
            adjust()
    except RuntimeError:  # "can't start new thread"
        return False
    finally:
        executor._idle_semaphore = idle
    return True


def widen_program_registrations(limit: int = MAX_PARALLEL_RPCS) -> bool:
    """Give the running program's event loop a default executor of ``limit`` threads unless
    its own is as wide. Returns whether a loop runs here (outside a program: nothing to do)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    current = getattr(loop, "_default_executor", None)
    if isinstance(current, ThreadPoolExecutor) and getattr(current, "_max_workers", 0) >= limit:
        return True
    # The old executor keeps serving what it already runs; new registrations use this one.
    loop.set_default_executor(ThreadPoolExecutor(limit, thread_name_prefix="vigo-register"))
    return True
