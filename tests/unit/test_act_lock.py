"""The host's act lock: new uses side by side, a checked act alone (pulumi_vigo_vm.hostfile.act).

The creates of one ``up`` make their overlays and defines at once (shared); a checked act
(a base renamed over, a disk removed, a define that takes a data disk) waits until every
new use in progress ended and lets none start meanwhile (exclusive). Threads meet at
barriers and wait on the lock's own state: no sleep, no timing assertion."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from pulumi_vigo_vm.hostfile.act import _ActLock

BOUND_S = 30.0
"""A bound on a deadlock, never reached when the lock does what it says."""


def _until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(int(BOUND_S * 100)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("the lock never reached the state the test waits for")


def _start(fn: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def test_new_uses_hold_it_at_once() -> None:
    lock = _ActLock()
    met = threading.Barrier(3, timeout=BOUND_S)

    def new_use() -> None:
        with lock.shared():
            met.wait()  # breaks (BrokenBarrierError) unless all three are inside together

    threads = [_start(new_use) for _ in range(2)]
    new_use()
    for thread in threads:
        thread.join(BOUND_S)


def test_a_checked_act_waits_for_the_new_uses_in_progress_and_lets_none_start() -> None:
    lock = _ActLock()
    order: list[str] = []
    release = threading.Event()

    def new_use(name: str) -> None:
        with lock.shared():
            order.append(name)
            release.wait(BOUND_S)

    def checked() -> None:
        with lock.exclusive():
            order.append("checked")

    first = _start(lambda: new_use("first"))
    _until(lambda: order == ["first"])
    act = _start(checked)
    _until(lambda: lock._waiting == 1)
    late = _start(lambda: new_use("late"))  # comes after the waiting checked act
    release.set()
    for thread in (first, act, late):
        thread.join(BOUND_S)
    assert order == ["first", "checked", "late"]


def test_a_checked_act_may_take_it_again_in_either_mode() -> None:
    lock = _ActLock()
    with lock.exclusive(), lock.shared(), lock.exclusive():
        pass
    with lock.shared():  # and it is free afterwards
        pass


def test_a_new_use_takes_it_again_while_a_checked_act_waits() -> None:
    lock = _ActLock()
    done: list[str] = []
    inner = threading.Event()

    def new_use() -> None:
        with lock.shared():
            inner.wait(BOUND_S)
            with lock.shared():  # would deadlock if it queued behind the checked act
                done.append("inner")

    thread = _start(new_use)
    _until(lambda: bool(lock._shared))
    act = _start(lambda: lock.exclusive().__enter__())
    _until(lambda: lock._waiting == 1)
    inner.set()
    thread.join(BOUND_S)
    act.join(BOUND_S)
    assert done == ["inner"]


def test_a_new_use_may_not_start_a_checked_act_inside_it() -> None:
    lock = _ActLock()
    with lock.shared(), pytest.raises(RuntimeError, match="checked act inside"):
        lock.exclusive().__enter__()
