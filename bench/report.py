"""The table: per-VM seconds and ratios, storage, memory, SSH connections, growth with N.

Columns (per VM, medians over repetitions):

* ``subject`` — harness wall time / N, including the harness's fixed start-up
  (program process + provider process);
* ``net`` — (harness wall time - harness fixed cost) / N: the provider's own cost (fixed
  cost = preview of a stack declaring one new VM, measured beside each N);
* ``floor`` — the minimal libvirt-python script / N (same hypervisor work);
* ``net/floor`` and ``subj/floor`` — the ratios the targets are about;
* ``peer`` — ``virt-install`` / N (running create only).
"""

from __future__ import annotations

import math

from .runner import OPS, Results
from .stats import median

TARGETS = {"preview_noop": {"local": 2.0, "ssh": 3.0}, "create_defined": {"local": 1.3, "ssh": 1.3}}


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return "—" if math.isnan(a) or math.isnan(b) or b <= 0 else f"{a / b:.2f}x"


def per_vm(results: Results, transport: str, op: str, who: str, n: int) -> float:
    return (
        results.times[(transport, op, who, n)].median / n
        if (transport, op, who, n) in results.times
        else math.nan
    )


def fixed_cost(results: Results, transport: str, n: int) -> float:
    """The harness's fixed cost per run, measured next to the N-VM runs (same load)."""
    samples = results.times.get((transport, "harness_fixed", "subject", n))
    return samples.median if samples is not None else math.nan


def net_per_vm(results: Results, transport: str, op: str, n: int) -> float:
    gross = results.times.get((transport, op, "subject", n))
    if gross is None:
        return math.nan
    return (gross.median - fixed_cost(results, transport, n)) / n


def marginal_per_vm(results: Results, transport: str, op: str, who: str, lo: int, hi: int) -> float:
    """(T(hi) - T(lo)) / (hi - lo): the cost of one more VM, free of any fixed cost."""
    a, b = results.times.get((transport, op, who, lo)), results.times.get((transport, op, who, hi))
    if a is None or b is None:
        return math.nan
    return (b.median - a.median) / (hi - lo)


def table(results: Results, transports: list[str], ns: list[int]) -> str:
    lines = [
        "| transport | op | N | subject s/VM | net s/VM | floor s/VM | net/floor | subj/floor "
        "| peer s/VM | subj/peer |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in transports:
        for n in ns:
            fixed = fixed_cost(results, transport, n)
            lines.append(
                f"| {transport} | harness fixed cost (per run) | {n} | {_fmt(fixed)} |||||||"
            )
        for op in OPS:
            for n in ns:
                subj = per_vm(results, transport, op, "subject", n)
                if math.isnan(subj):
                    continue
                net = net_per_vm(results, transport, op, n)
                floor = per_vm(results, transport, op, "floor", n)
                peer = per_vm(results, transport, op, "peer", n)
                lines.append(
                    f"| {transport} | {op} | {n} | {_fmt(subj)} | {_fmt(net)} | {_fmt(floor)} "
                    f"| {_ratio(net, floor)} | {_ratio(subj, floor)} | {_fmt(peer)} "
                    f"| {_ratio(subj, peer)} |"
                )
    return "\n".join(lines)


def growth(results: Results, transports: list[str], ns: list[int]) -> str:
    """Per-VM net cost at each N relative to the smallest N >= 10 (flat = 1.00x)."""
    ref = [n for n in ns if n >= 10]
    if len(ref) < 2:
        return "(growth needs two N >= 10)"
    lo, hi = ref[0], ref[-1]
    lines = [
        f"| transport | op | net s/VM N={lo} | net s/VM N={hi} | growth | floor growth "
        f"| marginal s/VM {lo}->{hi} | floor marginal | marginal ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in transports:
        for op in OPS:
            a, b = net_per_vm(results, transport, op, lo), net_per_vm(results, transport, op, hi)
            fa = per_vm(results, transport, op, "floor", lo)
            fb = per_vm(results, transport, op, "floor", hi)
            if math.isnan(a):
                continue
            ms = marginal_per_vm(results, transport, op, "subject", lo, hi)
            mf = marginal_per_vm(results, transport, op, "floor", lo, hi)
            row = f"| {transport} | {op} | {_fmt(a)} | {_fmt(b)} | {_ratio(b, a)} "
            lines.append(row + f"| {_ratio(fb, fa)} | {_fmt(ms)} | {_fmt(mf)} | {_ratio(ms, mf)} |")
    return "\n".join(lines)


def extras(results: Results) -> str:
    lines = []
    base_alloc, base_size = results.base_bytes
    for (transport, n), (alloc, apparent) in sorted(results.storage.items()):
        lines.append(
            f"storage {transport} N={n}: {alloc / 1024:.0f} KiB allocated "
            f"({apparent / 1024:.0f} KiB apparent) per VM before boot (overlay + seed) vs base "
            f"{base_alloc / 1024**2:.1f} MiB allocated ({base_size / 1024**2:.1f} MiB file) "
            f"= {alloc / base_alloc:.2%} of the base"
        )
    for (transport, op, n), kib in sorted(results.memory_kib.items()):
        lines.append(f"provider VmHWM {transport} {op} N={n}: {kib / 1024:.1f} MiB")
    for (transport, op, who, n), counts in sorted(results.ssh_connections.items()):
        lines.append(
            f"ssh connections {transport} {who} {op} N={n}: median {median(counts):.0f} per run"
        )
    return "\n".join(lines)


def render(results: Results, transports: list[str], ns: list[int]) -> str:
    return "\n\n".join(
        [table(results, transports, ns), growth(results, transports, ns), extras(results)]
    )
