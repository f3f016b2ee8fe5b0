"""Refusals that hold at the moment of the act: one lock per host, held from a fresh
listing to the act it allows.

A refusal that guards data ("in use", "written by another domain") is only true when it is
made; checked once, long before the act (before a download of minutes, or from a listing
kept since the run began), it lets through what happened meanwhile: a domain defined
during a base image's download has its base swapped under it, two VMs defined side by side
both take one data disk as free and both write it. So every act that such a refusal
allows runs inside :func:`fresh_listing` (the refusal is checked again on a listing taken
under the lock, then the act), and every act that makes a new use of a file runs inside
:func:`holding` (a define, an overlay on a base): within this process no act can fall
between another's check and its act.

What is closed, and what is not (honestly): the dynamic provider is one process per engine
run and serves every VigoVm, VigoDisk and VigoBaseImage of the program, so the windows
between this program's own resources are closed. Another process (a second ``pulumi up``,
``virsh define`` by hand, another libvirt client) takes no lock of ours: against it the
window is the time from the fresh listing to the act (milliseconds: a listing, then a
rename or a define), no longer the minutes of a download. The lock is per libvirt URI: the
same host reached through two URIs is two locks. Reentrant, so an act that holds it may
call helpers that take it again.

New uses do not exclude one another (two overlays on one base, two defines of different
VMs): they hold the lock shared, so the creates of one ``up`` make their overlays side by
side instead of one ``qemu-img`` after the other (issue 24); a checked act holds it alone,
after every new use in progress ended, and none starts until it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from ..virt.target import Target
from .usage import HostUsage, host_usage

__all__ = ["fresh_listing", "holding"]

_guard = threading.Lock()
_locks: dict[str, _ActLock] = {}


class _ActLock:
    """Many holders of ``shared`` at once, or one of ``exclusive`` alone; reentrant per
    thread (an exclusive holder may take either again). A waiting ``exclusive`` goes before
    new ``shared`` takers, so checked acts are never starved by a stream of creates."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._shared: dict[int, int] = {}
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me and me not in self._shared:
                while self._owner is not None or self._waiting:
                    self._cond.wait()
            self._shared[me] = self._shared.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._shared[me] -= 1
                if not self._shared[me]:
                    del self._shared[me]
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                if me in self._shared:  # it would wait for itself
                    raise RuntimeError("a new use may not start a checked act inside it")
                self._waiting += 1
                try:
                    while self._owner is not None or self._shared:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
                self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
                self._cond.notify_all()


def _lock_for(uri: str) -> _ActLock:
    with _guard:
        return _locks.setdefault(uri, _ActLock())


@contextmanager
def holding(target: Target) -> Iterator[None]:
    """Hold ``target``'s host lock shared: an act that makes a new use of a file (a define,
    an overlay on a base) falls before or after any checked act, never between its check
    and its act; other new uses run beside it."""
    with _lock_for(target.hypervisor.uri).shared():
        yield


@contextmanager
def fresh_listing(target: Target, about: Collection[str] = ()) -> Iterator[HostUsage]:
    """Hold ``target``'s host lock alone and give a listing of the host taken under it
    (with the paths ``about`` identified in the same question): check the refusal on it and
    act inside the block, so the refusal still holds at the act."""
    with _lock_for(target.hypervisor.uri).exclusive():
        yield host_usage(target, fresh=True, about=about)
