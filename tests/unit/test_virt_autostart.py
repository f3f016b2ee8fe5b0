"""virt/autostart.py: a look's autostart flags from one listing of the host, never a wrong one.

The in-process test driver (``test:///default``, no daemon) holds real domains and flags.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pulumi_vigo_vm.virt import autostart
from pulumi_vigo_vm.virt.autostart import autostart_of
from pulumi_vigo_vm.virt.connection import forget_connection
from pulumi_vigo_vm.virt.hypervisor import Guest, Hypervisor

TEST_URI = "test:///default"

DOMAIN = """<domain type='test'><name>{name}</name><memory>65536</memory>
<os><type>hvm</type></os></domain>"""


@pytest.fixture
def hypervisor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hypervisor]:
    monkeypatch.setattr(autostart, "_hosts", {})  # no listing kept from another test
    forget_connection(TEST_URI)
    yield Hypervisor(TEST_URI)
    forget_connection(TEST_URI)


@pytest.fixture
def make(hypervisor: Hypervisor) -> Iterator[Callable[[str, bool], Guest]]:
    """Define a domain with its autostart flag set; undefined after the test."""
    made: list[Guest] = []

    def define(name: str, flag: bool) -> Guest:
        guest = hypervisor.define(DOMAIN.format(name=name))
        guest.set_autostart(flag)
        made.append(guest)
        return guest

    yield define
    for guest in made:
        guest._domain.undefine()


def _uuid(guest: Guest) -> str:
    return str(guest._domain.UUIDString())


def test_one_listing_answers_every_domain_of_the_host(
    hypervisor: Hypervisor, make: Callable[[str, bool], Guest], monkeypatch: pytest.MonkeyPatch
) -> None:
    on = make("perf24b-on", True)
    off = make("perf24b-off", False)
    listings: list[int] = []
    original = Hypervisor.autostart_flags

    def counted(self: Hypervisor) -> dict[str, bool]:
        listings.append(1)
        return original(self)

    monkeypatch.setattr(Hypervisor, "autostart_flags", counted)
    for _ in range(3):
        assert autostart_of(hypervisor, on, _uuid(on)) is True
        assert autostart_of(hypervisor, off, _uuid(off)) is False
    assert len(listings) == 1


def test_a_domain_defined_after_the_listing_is_asked_itself(
    hypervisor: Hypervisor, make: Callable[[str, bool], Guest]
) -> None:
    first = make("perf24b-first", False)
    assert autostart_of(hypervisor, first, _uuid(first)) is False  # the listing is taken
    later = make("perf24b-later", True)
    assert autostart_of(hypervisor, later, _uuid(later)) is True


def test_a_flag_changed_since_is_seen_once_the_listing_is_older_than_it_is_kept(
    hypervisor: Hypervisor, make: Callable[[str, bool], Guest], monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = make("perf24b-flip", False)
    assert autostart_of(hypervisor, guest, _uuid(guest)) is False
    guest.set_autostart(True)
    monkeypatch.setattr(autostart, "KEPT_S", 0.0)
    assert autostart_of(hypervisor, guest, _uuid(guest)) is True


def test_the_listing_agrees_with_each_domain(
    hypervisor: Hypervisor, make: Callable[[str, bool], Guest]
) -> None:
    guests = [make(f"perf24b-{i}", i % 2 == 0) for i in range(4)]
    flags = hypervisor.autostart_flags()
    for guest in guests:
        assert flags[_uuid(guest)] is guest.autostart()


def test_while_one_diff_takes_the_listing_the_others_ask_their_own_domain(
    hypervisor: Hypervisor, make: Callable[[str, bool], Guest], monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = make("perf24b-busy", True)
    listing, answered = threading.Event(), threading.Event()
    original = Hypervisor.autostart_flags

    def slow(self: Hypervisor) -> dict[str, bool]:
        listing.set()
        assert answered.wait(timeout=10), "the other diff waited for the listing"
        return original(self)

    monkeypatch.setattr(Hypervisor, "autostart_flags", slow)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(autostart_of, hypervisor, guest, _uuid(guest))
        assert listing.wait(timeout=10)
        assert autostart_of(hypervisor, guest, _uuid(guest)) is True  # not waiting
        answered.set()
        assert first.result(timeout=10) is True
