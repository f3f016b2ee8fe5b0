"""discover's program, from values: valid Python, and a comment for what it cannot say."""

from __future__ import annotations

import ast

from pulumi_vigo_vm.discover import Found, render
from pulumi_vigo_vm.vm.domain_xml import DomainConfig, NicDevice

CONFIG = DomainConfig(
    name="web-01",
    uuid="8F1C2A4E-9B0D-4C1E-8F3A-2B5D7E9A1C3F",
    memory_mib=2048,
    vcpu=2,
    domain_type="kvm",
    overlay_path='/srv/vm "1"/web.qcow2',
    nics=(
        NicDevice("bridge", "br0", "52:54:00:00:00:01"),
        NicDevice("user", "", "52:54:00:00:00:02"),
    ),
    machine="pc-q35-7.2",
)


def test_the_program_is_valid_python_naming_what_it_cannot_express() -> None:
    text = render("qemu:///system", [Found(CONFIG, running=True, autostart=False)])

    tree = ast.parse(text)
    call = tree.body[-1].value  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert kwargs["adopt"] == "8f1c2a4e-9b0d-4c1e-8f3a-2b5d7e9a1c3f"
    assert kwargs["disk_path"] == '/srv/vm "1"/web.qcow2'
    assert kwargs["machine"] == "q35" and kwargs["autostart"] is False
    assert kwargs["nics"] == [{"bridge": "br0", "mac": "52:54:00:00:00:01", "model": "virtio"}]
    assert "# web-01: NIC 52:54:00:00:00:02 (user) cannot be declared" in text
    assert "# web-01: no <cpu>: it gets cpu_mode='host-passthrough'" in text


def test_no_domain_is_a_program_that_says_so() -> None:
    text = render("qemu:///system", [])
    ast.parse(text)
    assert "nothing to adopt" in text
