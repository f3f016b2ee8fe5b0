"""The one "is this value known yet" test agrees with the SDK's own placeholder class."""

from __future__ import annotations

from pulumi.output import Unknown

from pulumi_vigo_vm.common.unknown import contains_unknown, is_unknown


def test_the_sdks_placeholder_is_unknown_and_plain_values_are_not() -> None:
    assert is_unknown(Unknown())
    assert not any(is_unknown(v) for v in (None, "", 0, "Unknown", {}, []))


def test_an_unknown_inside_a_list_or_mapping_makes_the_whole_value_unknown() -> None:
    assert contains_unknown([{"path": Unknown()}])
    assert not contains_unknown([{"path": "/data/a.qcow2"}])
