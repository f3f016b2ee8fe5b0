"""Fixtures for the policy pack tests: runners shared by a module to keep the suite fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from policy_support import PACK_DIR

from pulumi_vigo_vm.testing.policy import PolicyRunner


@pytest.fixture(scope="module")
def default_runner() -> Iterator[PolicyRunner]:
    """The pack configured as the CLI does when no --policy-pack-config is given."""
    with PolicyRunner(PACK_DIR) as runner:
        yield runner


@pytest.fixture(scope="module")
def unconfigured_runner() -> Iterator[PolicyRunner]:
    """The pack never sent Configure, so only the defaults in code can apply."""
    with PolicyRunner(PACK_DIR, configure=False) as runner:
        yield runner
