"""common.once: an answer asked by one thread while the others wait; a failure not kept.
(The real parts that use it: tests/unit/test_images.py's fleet probing its base once, and
every libvirt suite asking host capabilities.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pulumi_vigo_vm.common.once import OncePerKey


def test_threads_asking_at_once_share_one_answer() -> None:
    once: OncePerKey[str, int] = OncePerKey()
    asked, release = [], threading.Event()

    def ask() -> int:
        asked.append(1)
        release.wait(5)
        return 42

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(once.get, "base", ask) for _ in range(8)]
        release.set()
        assert [f.result() for f in futures] == [42] * 8
    assert len(asked) == 1
    assert once.get("other", lambda: 7) == 7


def test_a_failed_ask_is_asked_again_and_clear_forgets() -> None:
    once: OncePerKey[str, int] = OncePerKey()

    def fail() -> int:
        raise RuntimeError("host gone")

    with pytest.raises(RuntimeError):
        once.get("k", fail)
    assert once.get("k", lambda: 1) == 1
    assert once.get("k", lambda: 2) == 1
    once.clear()
    assert once.get("k", lambda: 2) == 2
