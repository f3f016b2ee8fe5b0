"""discover's program, from values: valid Python, and a comment for what it cannot say."""

from __future__ import annotations

import ast
from dataclasses import replace

from pulumi_vigo_vm.discover import Found, render
from pulumi_vigo_vm.spec import ProviderDefaults
from pulumi_vigo_vm.vm.domain_xml import DiskDevice, DiskTune, DomainConfig, NicDevice
from pulumi_vigo_vm.vm.spec import parse_spec
from pulumi_vigo_vm.vm.tuning import Filesystem, HostDevice, Numa, NumaMode

from ._values import CLAIM

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


TUNED = replace(
    CONFIG,
    overlay_path="/srv/vm/web.qcow2",
    cpu_mode="host-model",
    nics=(NicDevice("direct", "eno1", "52:54:00:00:00:03", mode="vepa", vlan=None, inbound=800),),
    data_disks=(
        DiskDevice(
            "/srv/data.qcow2",
            "vdb",
            serial="data",
            iothread=1,
            tune=DiskTune(cache="none", io="native", iops=400),
        ),
    ),
    root_tune=DiskTune(bytes_per_s=10_485_760),
    rng=False,
    boot_order=("network", "hd"),
    host_devices=(HostDevice("pci", "0000:3b:00.0"),),
    filesystems=(Filesystem("/srv/share", "share"),),
    cpu_pinning=("0", "1"),
    numa=Numa(NumaMode.STRICT, "0"),
    hugepages=2048,
    iothreads=1,
)


def test_the_hardware_a_domain_has_is_declared_as_it_is() -> None:
    """Omitted, these inputs would change the domain at its adoption (an RNG added, the
    pinning dropped...), and a change the guest gets at a power cycle restarts it: the
    program declares each as the domain has it, and the inputs read back the same."""
    text = render("qemu:///system", [Found(TUNED, running=True, autostart=True)])
    call = ast.parse(text).body[-1].value  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert kwargs["rng"] is False and kwargs["boot_order"] == ["network", "hd"]
    assert kwargs["nics"] == [
        {
            "type": "direct",
            "dev": "eno1",
            "mode": "vepa",
            "mac": "52:54:00:00:00:03",
            "model": "virtio",
            "bandwidth": {"inbound": 800},
        }
    ]
    spec = parse_spec({**kwargs, "claim": CLAIM}, ProviderDefaults())
    assert (spec.rng, spec.boot_order, spec.root_tune) == (False, TUNED.boot_order, TUNED.root_tune)
    (disk,) = spec.data_disks
    assert (disk.iothread, disk.tune) == (1, TUNED.data_disks[0].tune)
    assert spec.host_devices == TUNED.host_devices and spec.filesystems == TUNED.filesystems
    assert (spec.cpu_pinning, spec.numa) == (TUNED.cpu_pinning, TUNED.numa)
    assert (spec.hugepages, spec.iothreads) == (2048, 1)


def test_an_open_vswitch_port_is_declared_only_as_the_inputs_would_write_it() -> None:
    """A tagged port on Open vSwitch is ``{"bridge", "vlan"}``; an untagged one the inputs
    cannot write (they would make it a Linux bridge's port), so it is named, not declared."""
    ports = replace(
        CONFIG,
        overlay_path="/srv/vm/web.qcow2",
        nics=(
            NicDevice("bridge", "ovsbr0", "52:54:00:00:00:04", vlan=42, virtualport="openvswitch"),
            NicDevice("bridge", "ovsbr0", "52:54:00:00:00:05", virtualport="openvswitch"),
        ),
    )
    text = render("qemu:///system", [Found(ports, running=True, autostart=True)])
    call = ast.parse(text).body[-1].value  # type: ignore[attr-defined]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert kwargs["nics"] == [
        {"bridge": "ovsbr0", "mac": "52:54:00:00:00:04", "model": "virtio", "vlan": 42}
    ]
    assert "NIC 52:54:00:00:00:05 (virtualport openvswitch) cannot be declared" in text
    (nic,) = parse_spec({**kwargs, "claim": CLAIM}, ProviderDefaults()).nics
    assert nic.virtualport == "openvswitch"
