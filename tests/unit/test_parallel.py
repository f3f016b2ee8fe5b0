"""_parallel against a real ThreadPoolExecutor of four workers, as pulumi.dynamic builds it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from pulumi_vigo_vm.dynamic.parallel import widen_program_registrations, widen_rpc_pool


def test_a_call_on_a_four_thread_pool_lets_ten_calls_run_at_once() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        # Quick calls first, as the Checks and Diffs of an up: the pool's idle count then
        # overstates, and a burst would otherwise start no new worker.
        for future in [pool.submit(int) for _ in range(40)]:
            future.result(timeout=10)
        assert pool.submit(widen_rpc_pool).result(timeout=10) is True
        # Ten calls that each wait for all ten: with four threads they could never meet.
        barrier = threading.Barrier(10, timeout=10)
        results = [pool.submit(barrier.wait) for _ in range(10)]
        assert sorted(f.result(timeout=20) for f in results) == list(range(10))


def test_outside_a_pool_nothing_is_changed() -> None:
    assert widen_rpc_pool() is False


def test_a_program_loop_gets_an_executor_wide_enough_for_many_registrations() -> None:
    async def program() -> list[int]:
        assert widen_program_registrations() is True
        loop = asyncio.get_running_loop()
        barrier = threading.Barrier(20, timeout=10)  # 20 blocking calls that must overlap
        return await asyncio.gather(*(loop.run_in_executor(None, barrier.wait) for _ in range(20)))

    assert sorted(asyncio.run(program())) == list(range(20))
    assert widen_program_registrations() is False  # no loop runs here
