"""``python -m pulumi_vigo_vm.discover URI [NAME...]``: print a Pulumi program that adopts
the domains of a host that this package did not create (operations spec §1).

One ``VigoVm`` per unmarked domain (or per named one): ``adopt`` with its UUID, its root
attached as it is, its data disks and NICs (with their MACs), memory, vCPUs, firmware,
machine, arch, CPU mode, run state and autostart, and the hardware and tuning the package
models (the RNG, boot order, disk cache/IO modes and limits, host devices, virtiofs shares,
pinning, NUMA, huge pages, I/O threads, a NIC's VLAN and bandwidth) as they are, so that
``pulumi up`` of the
program restarts nothing and the next ``preview`` is a no-op. What the inputs cannot
express exactly is a comment naming the domain and what the adoption would change. The
program is valid Python and ``ruff``-clean; the host is read over one connection and never
changed.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from .virt.target import Target
from .vm.devices import NIC_KINDS, DiskBus, Nic, NicModel, nic_virtualport
from .vm.domain_xml import BIOS, DEFAULT_BOOT_ORDER, DiskTune, DomainConfig, from_xml
from .vm.inputs import default_autostart, default_cpu_mode
from .vm.machines import machine_family

__all__ = ["Found", "main", "render"]

_ROOT_FORMATS = ("qcow2", "raw")


@dataclass(frozen=True)
class Found:
    """One unmarked domain as the host reports it."""

    config: DomainConfig
    running: bool
    autostart: bool


def _notes(found: Found) -> list[str]:
    """What the inputs cannot say of this domain: what the adoption would change."""
    config, notes = found.config, []
    if not config.overlay_path:
        notes.append("it has no disk: adopt needs a root disk (disk_path)")
    if config.root_format not in _ROOT_FORMATS:
        notes.append(f"its root is {config.root_format}: only qcow2 and raw roots are attached")
    for disk in config.data_disks:
        if disk.format not in _ROOT_FORMATS or disk.bus not in {b.value for b in DiskBus}:
            notes.append(
                f"disk {disk.source} ({disk.format} on {disk.bus}) cannot be declared: "
                "detach it first, or convert it"
            )
    for nic in config.nics:
        if nic.kind not in NIC_KINDS:
            notes.append(f"NIC {nic.mac} ({nic.kind}) cannot be declared: detach it first")
        elif nic.virtualport != nic_virtualport(nic.kind, nic.vlan):
            notes.append(
                f"NIC {nic.mac} (virtualport {nic.virtualport or 'none'}) cannot be declared: "
                "the inputs make a bridge NIC an Open vSwitch port exactly when it has a vlan; "
                "tag it or detach it first"
            )
        elif nic.model not in {m.value for m in NicModel}:
            notes.append(f"NIC {nic.mac}: model {nic.model} becomes virtio at the next boot")
    if config.cpu_mode is None:
        notes.append(
            f"no <cpu>: it gets cpu_mode={default_cpu_mode(config.domain_type)!r} at its next "
            "boot (nothing restarts)"
        )
    if config.seed_iso_path is not None:
        notes.append("its CD-ROM at sda on SCSI is taken for a seed: detach it first")
    return notes


def _name(domain: str, taken: set[str]) -> str:
    """A Python identifier for ``domain``'s variable, unique in the program."""
    base = re.sub(r"\W", "_", domain).lower()
    if not base or base[0].isdigit() or keyword.iskeyword(base):
        base = f"vm_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _literal(value: object) -> str:
    """``value`` as Python source, strings in double quotes (what ``ruff format`` keeps),
    lists and dicts of them too."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _arguments(found: Found, uri: str) -> list[tuple[str, object]]:
    config = found.config
    state = "running" if found.running else "stopped"
    args: list[tuple[str, object]] = [
        ("vm_name", config.name),
        ("uri", uri),
        ("adopt", config.uuid.lower()),
        ("disk_mode", "attach"),
        ("disk_path", config.overlay_path),
        ("memory_mib", config.memory_mib),
        ("vcpu", config.vcpu),
        ("domain_type", config.domain_type),
    ]
    if config.firmware != BIOS:
        args.append(("firmware", config.firmware))
    if config.machine is not None:
        args.append(("machine", machine_family(config.machine)))
    if config.arch is not None:
        args.append(("arch", config.arch))
    if config.cpu_mode is not None:
        args.append(("cpu_mode", config.cpu_mode))
    if config.tpm:
        args.append(("tpm", True))
    args.append(("state", state))
    if found.autostart != default_autostart(state):
        args.append(("autostart", found.autostart))
    return args + _hardware(config)


def _hardware(config: DomainConfig) -> list[tuple[str, object]]:
    """The hardware and tuning inputs where the domain differs from what their omission
    gives (a watchdog and a display are left as they are when omitted: not declared)."""
    args: list[tuple[str, object]] = [
        (f"disk_{name}", value) for name, value in _tune(config.root_tune).items()
    ]
    if not config.rng:
        args.append(("rng", False))
    if config.boot_order and config.boot_order != DEFAULT_BOOT_ORDER:
        args.append(("boot_order", list(config.boot_order)))
    if config.host_devices:
        args.append(("host_devices", [d.to_input() for d in config.host_devices]))
    if config.filesystems:
        args.append(("filesystems", [f.to_input() for f in config.filesystems]))
    if config.cpu_pinning:
        args.append(("cpu_pinning", list(config.cpu_pinning)))
    if config.numa is not None:
        args.append(("numa", config.numa.to_input()))
    if config.hugepages is not False:
        args.append(("hugepages", config.hugepages))
    if config.iothreads is not None:
        args.append(("iothreads", config.iothreads))
    return args


def _tune(tune: DiskTune) -> dict[str, object]:
    """A disk's cache and IO modes and limits that are set, by their input names."""
    return {k: v for k, v in vars(tune).items() if v is not None}


def _lists(found: Found) -> list[tuple[str, list[dict[str, object]]]]:
    config = found.config
    lists: list[tuple[str, list[dict[str, object]]]] = []
    nics = [
        Nic(
            nic.kind,
            nic.source,
            nic.mac,
            NicModel(nic.model),
            nic.mode,
            nic.vlan,
            nic.inbound,
            nic.outbound,
        ).to_input()
        for nic in config.nics
        if nic.kind in NIC_KINDS
        and nic.model in {m.value for m in NicModel}
        # a port the inputs would write otherwise stays undeclared (see _notes): adoption
        # refuses it rather than rewrite it
        and nic.virtualport == nic_virtualport(nic.kind, nic.vlan)
    ]
    if nics:
        lists.append(("nics", [{k: v for k, v in nic.items() if v} for nic in nics]))
    disks: list[dict[str, object]] = [
        {
            "path": disk.source,
            "format": disk.format,
            "bus": disk.bus,
            "serial": disk.serial or False,
            **({"readonly": True} if disk.readonly else {}),
            **({"iothread": disk.iothread} if disk.iothread is not None else {}),
            **_tune(disk.tune),
        }
        for disk in config.data_disks
        if disk.format in _ROOT_FORMATS and disk.bus in {b.value for b in DiskBus}
    ]
    if disks:
        lists.append(("data_disks", disks))
    return lists


def render(uri: str, domains: Sequence[Found]) -> str:
    """The program adopting ``domains`` of the host at ``uri``."""
    lines = [
        f'"""Adopt the domains of {uri}.',
        "",
        'Written by python -m pulumi_vigo_vm.discover: review it, then pulumi up."""',
        "",
        "from pulumi_vigo_vm import VigoVm",
    ]
    taken: set[str] = {"VigoVm"}
    for found in sorted(domains, key=lambda f: f.config.name):
        lines.append("")
        for note in _notes(found):
            lines.append(f"# {found.config.name}: {note}")
        lines.append(f"{_name(found.config.name, taken)} = VigoVm(")
        lines.append(f"    {_literal(found.config.name)},")
        for key, value in _arguments(found, uri):
            lines.append(f"    {key}={_literal(value)},")
        for key, entries in _lists(found):
            lines.append(f"    {key}=[")
            for entry in entries:  # one key a line, as ruff format keeps it
                lines.append("        {")
                lines += [f"            {_literal(k)}: {_literal(v)}," for k, v in entry.items()]
                lines.append("        },")
            lines.append("    ],")
        lines.append(")")
    if not domains:
        lines += ["", f"# No unmarked domain on {uri}: nothing to adopt."]
    return "\n".join(lines) + "\n"


def discover(uri: str, names: Sequence[str] = ()) -> list[Found]:
    """The unmarked domains on ``uri`` (only ``names`` when given), read over one
    connection; never changes anything."""
    hypervisor = Target.for_uri(uri).hypervisor
    found = []
    for definition in hypervisor.domain_definitions():
        if names and definition.name not in names:
            continue
        live = from_xml(definition.persistent_xml)
        guest = hypervisor.lookup(definition.name)
        if live.marked or guest is None:
            continue
        running = definition.live_xml is not None
        found.append(Found(live.config, running, guest.autostart()))
    missing = set(names) - {f.config.name for f in found}
    if missing:
        raise SystemExit(
            f"discover: no unmarked domain named {', '.join(sorted(missing))} on {uri} "
            "(virsh list --all; a domain this package manages is already adopted)"
        )
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pulumi_vigo_vm.discover", description=__doc__)
    parser.add_argument("uri", help="libvirt URI: qemu:///system or qemu+ssh://host/system")
    parser.add_argument("names", nargs="*", help="only these domains")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.uri, discover(args.uri, args.names)))


if __name__ == "__main__":
    main()
