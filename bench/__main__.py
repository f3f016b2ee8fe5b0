"""``python -m bench [--quick] [--n 1,10,50] [--reps 3] [--transports local,ssh]``.

Prints the machine, then the table (see :mod:`bench.report` for the columns). Progress
goes to stderr. ``--profile`` also profiles the provider's methods in-process.

``--fleet``: what a fleet sees, in minutes and without guest boots: the defined cycle
(create, no-op preview, delete against the floor) locally and over qemu+ssh at N=50,
then :mod:`bench.fleet` (50 and 200 VMs over four qemu+ssh hosts) and :mod:`bench.waits`
with each cap (blank disks: the qemu processes start, no OS boots).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from . import machine, report
from .runner import Bench, Results, log
from .world import LOCAL_URI, World

if TYPE_CHECKING:
    from pulumi_vigo_vm.testing.sshd import PrivateSshd


@contextlib.contextmanager
def _sshd() -> Iterator[PrivateSshd]:
    """A private sshd on 127.0.0.1 (libvirtd is local), also trusted by the ssh binary that
    libvirt's own qemu+ssh transport spawns for the hand-written floor."""
    from pulumi_vigo_vm.hosts.ssh import close_all_ssh_hosts
    from pulumi_vigo_vm.testing.sshd import PrivateSshd, trusted_by_ssh_binary

    workdir = Path(tempfile.mkdtemp(prefix="bench-sshd-", dir="/var/tmp"))
    server = PrivateSshd.start(workdir)
    try:
        with trusted_by_ssh_binary(server):
            yield server
    finally:
        close_all_ssh_hosts()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N=1,10, one repetition, no ssh")
    parser.add_argument("--n", default="1,10,50", help="stack sizes (comma-separated)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median taken)")
    parser.add_argument("--transports", default="local,ssh")
    parser.add_argument("--no-peer", action="store_true", help="skip virt-install")
    parser.add_argument(
        "--defined-only",
        action="store_true",
        help="only create, no-op preview and delete of defined VMs (no boots, no peer)",
    )
    parser.add_argument(
        "--peer-n", default="1,10", help="N at which virt-install runs (it is sequential, slow)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the provider too")
    parser.add_argument(
        "--fleet", action="store_true", help="defined cycle, bench.fleet, bench.waits --caps"
    )
    parser.add_argument("--json", type=Path, help="write raw samples here (after every N)")
    parser.add_argument(
        "--report", type=Path, nargs="+", help="only print the table of saved --json runs"
    )
    args = parser.parse_args(argv)
    # `kill` (SIGTERM) unwinds like Ctrl-C, so every bench- domain, pool and file is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ns = [int(x) for x in args.n.split(",")]
    reps, transports = args.reps, args.transports.split(",")
    if args.quick:
        ns, reps, transports = [1, 10], 1, ["local"]
    if args.fleet:
        ns, args.defined_only, args.no_peer = [50], True, True

    if args.report:
        merged = Results()
        for path in args.report:
            merged.merge_json(json.loads(path.read_text())["results"])
        seen = sorted({k[0] for k in merged.times}, key=["local", "ssh"].index)
        print(report.render(merged, seen, sorted({k[3] for k in merged.times})))
        return 0
    if not args.no_peer and shutil.which("virt-install") is None:
        parser.error("virt-install is missing: apt-get install virtinst xorriso (or --no-peer)")
    desc = machine.describe()
    print("\n".join(f"- {k}: {v}" for k, v in desc.items()))
    results = Results()
    for transport in transports:
        with contextlib.ExitStack() as stack:
            uri, sshd = LOCAL_URI, None
            if transport == "ssh":
                sshd = stack.enter_context(_sshd())
                uri = sshd.uri
            world = stack.enter_context(World.create(uri))
            peer_ns = {int(x) for x in args.peer_n.split(",")}
            bench = Bench(world, transport, results, sshd, running=not args.defined_only)
            for n in ns:
                log(f"{transport} N={n}")
                bench.peer = (
                    not (args.no_peer or args.defined_only)
                    and transport == "local"
                    and n in peer_ns
                )
                bench.run(n, reps)
                if args.json:
                    saved = {"machine": desc, "results": results.to_json()}
                    args.json.write_text(json.dumps(saved, indent=1))
    print()
    print(report.render(results, transports, ns))
    if args.fleet:
        from . import fleet, waits

        print()
        fleet.main(["--n", "50,200", "--reps", str(reps), "--data-disks"])
        print()
        waits.main(["--n", "1,8,20", "--reps", str(reps), "--caps"])
    if args.profile:
        from . import profile

        print()
        print(profile.run())
        print()
        print(profile.attribution())
        with _sshd() as server:
            print()
            print(profile.run(server.uri))
    return 0


if __name__ == "__main__":
    sys.exit(main())
