"""Bring the two-host rig up or down by hand::

    python -m tests.support.twohost up   [--dir /var/tmp/vigo-twohost]
    python -m tests.support.twohost down [--dir /var/tmp/vigo-twohost]

``up`` prints the URIs and paths as shell assignments and returns, leaving the rig running;
``down`` tears down the rig recorded in the directory. Run from the repository root as root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .procs import RigError
from .rig import TwoHosts, start, stop

DEFAULT_DIR = Path("/var/tmp/vigo-twohost")


def describe(rig: TwoHosts) -> list[str]:
    """The rig as ``NAME=value`` lines."""
    lines = [f"VIGO_RIG_DIR={rig.plan.dir}"]
    for name, host in (("A", rig.a), ("B", rig.b)):
        lines += [
            f"VIGO_RIG_{name}_HOSTNAME={host.hostname}",
            f"VIGO_RIG_{name}_ADDRESS={host.address}",
            f"VIGO_RIG_{name}_URI='{host.libvirt_uri}'",
            f"VIGO_RIG_{name}_SSH_URI='{host.ssh_uri}'",
            f"VIGO_RIG_{name}_LOCAL_URI='{host.local_uri}'",
            f"VIGO_RIG_{name}_ROOT={host.root}",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.twohost", description=__doc__)
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the rig's directory")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            print("\n".join(describe(start(args.dir))))
        else:
            stop(args.dir)
    except RigError as exc:
        print(f"twohost {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
