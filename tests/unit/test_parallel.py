"""_rpc_pool against a real ThreadPoolExecutor of four workers, as pulumi.dynamic builds it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from pulumi_vigo_vm._rpc_pool import widen_rpc_pool


def test_a_call_on_a_four_thread_pool_lets_ten_calls_run_at_once() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert pool.submit(widen_rpc_pool).result(timeout=10) is True
        # Ten calls that each wait for all ten: with four threads they could never meet.
        barrier = threading.Barrier(10, timeout=10)
        results = [pool.submit(barrier.wait) for _ in range(10)]
        assert sorted(f.result(timeout=20) for f in results) == list(range(10))


def test_outside_a_pool_nothing_is_changed() -> None:
    assert widen_rpc_pool() is False
