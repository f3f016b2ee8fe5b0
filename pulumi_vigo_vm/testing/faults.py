"""Fault injection at the executor's step boundaries, for tests: see
:mod:`pulumi_vigo_vm._faults` (where the provider's hook lives, apart from the harness)."""

from .._faults import ENV_VAR, SLEEP_S, Fault, InjectedFault, hook_from_env, parse_faults

__all__ = ["ENV_VAR", "SLEEP_S", "Fault", "InjectedFault", "hook_from_env", "parse_faults"]
