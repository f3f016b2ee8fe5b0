"""Every libvirt call that talks to the guest agent goes through ``Guest._agent``.

libvirt blocks forever on an agent that answers its sync and then stalls, unless the
domain's agent response timeout is set; ``Guest._agent`` sets it before each call
(``tests/integration/test_guest_output.py`` shows libvirtd holding it). This test keeps
that the one way in: libvirt is called only under ``pulumi_vigo_vm/virt`` (import-linter),
and there no ``virDomain`` method that libvirt answers through the agent is called on the
domain directly, and shutdown and reboot name a mechanism that is not the agent (with no
flag libvirt prefers the agent).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pulumi_vigo_vm.virt

VIRT = Path(pulumi_vigo_vm.virt.__file__).parent

AGENT_METHODS = frozenset(
    {
        "interfaceAddresses",
        "fsFreeze",
        "fsThaw",
        "fsTrim",
        "getFSInfo",
        "guestInfo",
        "guestVcpus",
        "setGuestVcpus",
        "setUserPassword",
        "hostname",
        "getTime",
        "setTime",
        "authorizedSSHKeysGet",
        "authorizedSSHKeysSet",
        "suspendForDuration",
        "qemuAgentCommand",
        "shutdown",
        "reboot",
    }
)
"""``virDomain`` methods libvirt's qemu driver may answer by asking the guest agent
(``shutdown``/``reboot`` with no flag prefer it when one is connected)."""

NOT_THE_AGENT = ("ACPI_POWER_BTN", "SIGNAL", "INITCTL", "PARAVIRT")


def _on_domain(call: ast.Call) -> str | None:
    """The method name when ``call`` is ``self._domain.<method>(…)``."""
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "_domain"
    ):
        return func.attr
    return None


@pytest.mark.parametrize("module", sorted(VIRT.glob("*.py")), ids=lambda p: p.name)
def test_no_agent_call_bypasses_the_timeout(module: Path) -> None:
    tree = ast.parse(module.read_text())
    direct = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        method = _on_domain(node)
        if method in AGENT_METHODS:
            direct.append(f"{method} at line {node.lineno}")
        if method in ("shutdownFlags", "rebootFlags"):
            flags = ast.unparse(node.args[0]) if node.args else "0"
            if not any(word in flags for word in NOT_THE_AGENT):
                direct.append(f"{method}({flags}) at line {node.lineno}")
    assert direct == [], f"{module.name}: call the agent through Guest._agent: {direct}"


def test_the_agent_path_sets_the_timeout_before_the_call() -> None:
    """``Guest._agent`` calls ``agentSetResponseTimeout`` on the domain, then the call."""
    tree = ast.parse((VIRT / "hypervisor.py").read_text())
    agent = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "_agent"
    )
    calls = [n for n in ast.walk(agent) if isinstance(n, ast.Call)]
    names = [ast.unparse(call.func) for call in calls]
    assert "self._domain.agentSetResponseTimeout" in names
    assert names.index("self._domain.agentSetResponseTimeout") < names.index("call")
