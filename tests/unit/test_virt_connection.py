"""virt/: which libvirt errors mean "the connection is lost", and what the Hypervisor does
then.

Real libvirt objects throughout: ``libvirtError`` with its ``err`` tuple set as libvirt sets
it, and the in-process test driver (``test:///default``), which needs no daemon.
"""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest

from pulumi_vigo_vm.errors import LibvirtCallError
from pulumi_vigo_vm.virt.connection import forget_connection, is_connection_lost, libvirt_connection
from pulumi_vigo_vm.virt.hypervisor import Hypervisor

TEST_URI = "test:///default"

CONNECTION_CODES = [
    libvirt.VIR_ERR_SYSTEM_ERROR,
    libvirt.VIR_ERR_INTERNAL_ERROR,
    libvirt.VIR_ERR_RPC,
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
]
TRANSPORT_DOMAINS = [libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_RPC]


def error(code: int, domain: int, message: str = "it failed") -> libvirt.libvirtError:
    """A libvirtError as the binding raises it: err is virGetLastError()'s 9-tuple."""
    exc = libvirt.libvirtError(message)
    exc.err = (code, domain, message, libvirt.VIR_ERR_ERROR, message, None, None, -1, -1)
    return exc


@pytest.mark.parametrize("domain", TRANSPORT_DOMAINS)
@pytest.mark.parametrize("code", CONNECTION_CODES)
def test_a_connection_error_of_the_rpc_layer_or_remote_driver_is_a_lost_connection(
    code: int, domain: int
) -> None:
    assert is_connection_lost(error(code, domain))


@pytest.mark.parametrize(
    "domain", [libvirt.VIR_FROM_QEMU, libvirt.VIR_FROM_DOMAIN, libvirt.VIR_FROM_NONE]
)
@pytest.mark.parametrize("code", CONNECTION_CODES)
def test_the_same_codes_from_a_driver_are_not(code: int, domain: int) -> None:
    # e.g. "internal error: qemu unexpectedly closed the monitor" from the qemu driver: the
    # call failed, the connection is fine
    assert not is_connection_lost(error(code, domain))


@pytest.mark.parametrize("domain", TRANSPORT_DOMAINS)
@pytest.mark.parametrize(
    "code",
    [libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_AUTH_FAILED],
)
def test_other_codes_of_the_rpc_layer_are_not(code: int, domain: int) -> None:
    assert not is_connection_lost(error(code, domain))


def test_what_libvirt_itself_raises_on_a_broken_and_a_closed_connection() -> None:
    with pytest.raises(libvirt.libvirtError) as refused:
        libvirt.open("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    assert is_connection_lost(refused.value)  # SYSTEM_ERROR from the RPC layer
    conn = libvirt.open(TEST_URI)
    conn.close()
    with pytest.raises(libvirt.libvirtError) as closed:
        conn.getInfo()
    # a closed object (INVALID_CONN, reported by the API itself) is our bug, not a lost link
    assert closed.value.get_error_code() == libvirt.VIR_ERR_INVALID_CONN
    assert not is_connection_lost(closed.value)


@pytest.fixture
def hypervisor() -> Iterator[Hypervisor]:
    forget_connection(TEST_URI)
    yield Hypervisor(TEST_URI)
    forget_connection(TEST_URI)


def _fail_with(exc: libvirt.libvirtError, calls: list[int]) -> object:
    def call(_conn: libvirt.virConnect) -> object:
        calls.append(1)
        raise exc

    return call


def test_a_lost_connection_is_dropped_and_a_read_retried_once(hypervisor: Hypervisor) -> None:
    first = libvirt_connection(TEST_URI)
    calls: list[int] = []
    lost = error(libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_RPC, "client socket is closed")
    with pytest.raises(LibvirtCallError) as caught:
        hypervisor._read("reading", _fail_with(lost, calls))  # type: ignore[arg-type]
    assert caught.value.code == libvirt.VIR_ERR_INTERNAL_ERROR
    assert len(calls) == 2
    assert libvirt_connection(TEST_URI) is not first


def test_a_drivers_internal_error_keeps_the_connection_and_is_not_retried(
    hypervisor: Hypervisor,
) -> None:
    first = libvirt_connection(TEST_URI)
    calls: list[int] = []
    failed = error(libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_QEMU, "monitor closed")
    with pytest.raises(LibvirtCallError, match="monitor closed"):
        hypervisor._read("reading", _fail_with(failed, calls))  # type: ignore[arg-type]
    assert len(calls) == 1
    assert libvirt_connection(TEST_URI) is first


def test_a_connection_a_failed_call_left_dead_is_replaced_at_the_next_call(
    hypervisor: Hypervisor,
) -> None:
    # The error does not say the link is lost (a driver's own), but the connection no longer
    # says it is alive: the next call must not be handed the dead one.
    first = libvirt_connection(TEST_URI)
    failed = error(libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_QEMU, "it went away")

    def closes_then_fails(conn: libvirt.virConnect) -> object:
        conn.close()
        raise failed

    with pytest.raises(LibvirtCallError, match="it went away"):
        hypervisor._read("reading", closes_then_fails)  # type: ignore[arg-type]
    assert libvirt_connection(TEST_URI) is not first
    assert hypervisor.lookup("test") is not None


def test_the_hypervisor_reads_the_test_driver(hypervisor: Hypervisor) -> None:
    guest = hypervisor.lookup("test")
    assert guest is not None and guest.name == "test"
    assert hypervisor.lookup("vigo-no-such-domain") is None
    assert hypervisor.architecture()
