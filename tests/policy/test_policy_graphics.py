"""The display rule (vigo-vm-open-display): a display listening beyond the host's loopback
needs a password; alone and through the pack as the CLI runs it."""

from __future__ import annotations

import pytest
from policy_support import PACK_DIR, vm

from pulumi_vigo_vm.policies import OPEN_DISPLAY_POLICY, open_display_violation
from pulumi_vigo_vm.testing.policy import PolicyRunner, Secret


@pytest.mark.parametrize(
    ("props", "open_"),
    [
        ({}, False),
        ({"graphics": "vnc"}, False),  # the provider's default: 127.0.0.1
        ({"graphics": "vnc", "graphics_listen": "127.0.0.2"}, False),
        ({"graphics": "spice", "graphics_listen": "::1"}, False),
        ({"graphics": "vnc", "graphics_listen": "0.0.0.0"}, True),
        ({"graphics": "spice", "graphics_listen": "::"}, True),
        ({"graphics": "vnc", "graphics_listen": "198.18.0.5"}, True),
        ({"graphics": "vnc", "graphics_listen": "0.0.0.0", "graphics_password": "pw"}, False),
        ({"graphics_listen": "0.0.0.0"}, False),  # no display (the provider refuses it)
    ],
)
def test_an_open_display_is_one_beyond_loopback_without_a_password(
    props: dict[str, str], open_: bool
) -> None:
    assert (open_display_violation({"vm_name": "web", **props}) is not None) == open_


def test_the_message_names_the_vm_the_address_and_the_fix_never_a_password() -> None:
    message = open_display_violation(
        {"vm_name": "web", "graphics": "vnc", "graphics_listen": "0.0.0.0"}
    )
    assert message is not None
    assert "'web'" in message and "0.0.0.0" in message and "graphics_password" in message


def test_the_pack_flags_an_open_display_and_passes_a_guarded_one() -> None:
    with PolicyRunner(PACK_DIR, {}) as runner:
        open_vm = vm("web", memory_mib=64, vcpu=1, graphics="vnc", graphics_listen="0.0.0.0")
        [violation] = runner.analyze(open_vm)
        assert violation.policy_name == OPEN_DISPLAY_POLICY and violation.mandatory
        guarded = vm(
            "db",
            memory_mib=64,
            vcpu=1,
            graphics="vnc",
            graphics_listen="0.0.0.0",
            graphics_password=Secret("pw"),  # as the engine sends a secret input
        )
        assert runner.analyze(guarded) == []
