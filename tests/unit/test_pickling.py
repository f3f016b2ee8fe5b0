"""The pickler workaround for pulumi#17803 (``pulumi_vigo_vm.dynamic.pickling``), against the SDK's
real ``serialize_provider``: what a dynamic resource's construction does, in a loop."""

from __future__ import annotations

import pickle

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_vigo_vm.dynamic.pickling import pristine_pickler
from pulumi_vigo_vm.provider import VmProvider

BEYOND_THE_CRASH = 1000
"""More constructions than the 486 after which the unpatched SDK overflows the stack."""


def test_constructions_under_the_workaround_never_deepen_the_pickler() -> None:
    stock = dict(vars(pickle._Pickler))
    blobs = set()
    for _ in range(BEYOND_THE_CRASH):
        with pristine_pickler():
            blobs.add(serialize_provider(VmProvider()))
    assert len(blobs) == 1, "the provider blob must not vary (no __provider churn)"
    assert dict(vars(pickle._Pickler)) == stock
    assert pickle.Pickler is not pickle._Pickler


def test_the_blob_is_the_one_an_unpatched_first_construction_writes() -> None:
    """State written by the previous release (without the workaround) holds the first
    construction's blob: the workaround writes the same bytes, so nothing churns."""
    with pristine_pickler():
        first_ever = serialize_provider(VmProvider())  # a pristine pickler, as at start-up
        with pristine_pickler():
            nested = serialize_provider(VmProvider())
        assert serialize_provider(VmProvider()) == first_ever == nested


def test_the_upstream_bug_is_still_there_and_the_pickler_survives_it() -> None:
    """When this fails, pulumi fixed #17803: drop pulumi_vigo_vm/_pickling.py. The
    unprotected constructions overflow the stack, and the block still restores the stock
    pickler after the RecursionError."""
    stock = dict(vars(pickle._Pickler))
    with pytest.raises(RecursionError), pristine_pickler():
        for _ in range(BEYOND_THE_CRASH):
            serialize_provider(VmProvider())
    assert dict(vars(pickle._Pickler)) == stock
    with pristine_pickler():
        serialize_provider(VmProvider())
