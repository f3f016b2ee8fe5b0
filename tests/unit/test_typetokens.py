"""Each resource class gets the type token stated once in common.typetokens: the engine
names resources in the state by it, and claims and the policy pack match on it."""

from __future__ import annotations

import pytest
from pulumi.dynamic import Resource

from pulumi_vigo_vm import VigoBaseImage, VigoDisk, VigoSnapshot, VigoVm
from pulumi_vigo_vm.common import typetokens
from pulumi_vigo_vm.stateid import VigoStateId


@pytest.mark.parametrize(
    ("cls", "token"),
    [
        (VigoVm, typetokens.VIGO_VM),
        (VigoDisk, typetokens.VIGO_DISK),
        (VigoBaseImage, typetokens.VIGO_BASE_IMAGE),
        (VigoSnapshot, typetokens.VIGO_SNAPSHOT),
        (VigoStateId, typetokens.VIGO_STATE_ID),
    ],
)
def test_each_resource_class_has_its_stated_token(cls: type[Resource], token: str) -> None:
    assert f"pulumi-python:{cls._resource_type_name}" == token  # as Resource.__init__ builds it
