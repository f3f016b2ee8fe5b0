"""``vigo-curator``: publish, resolve and list curator artifacts from a shell.

The curator and puddle default to ``$VIGO_CURATOR`` / ``$VIGO_PUDDLE`` (the same values as
the stack's ``vigo:curator`` / ``vigo:puddle``), else the embedded layout directory and
no puddle. Errors are printed as one line and exit 1; no traceback, because every error
raised below is already a sentence naming the fix.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..errors import VigoError
from .manifest import parse_manifest
from .push import KINDS, Progress, push_generic
from .reference import parse_reference
from .resolve import resolve
from .store import ArtifactStore, default_curator, open_store

__all__ = ["main"]

_PROGRESS_THRESHOLD = 16 << 20


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--curator",
        default=os.environ.get("VIGO_CURATOR") or default_curator(),
        help="registry host[:port] (http:// or https:// to force) or layout directory "
        "(default: $VIGO_CURATOR, else %(default)s)",
    )
    common.add_argument(
        "--puddle",
        default=os.environ.get("VIGO_PUDDLE", ""),
        help="the implicit puddle for references without one (default: $VIGO_PUDDLE)",
    )
    parser = argparse.ArgumentParser(
        prog="vigo-curator", description="Publish and find VM disk-image artifacts."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    push = sub.add_parser("push", parents=[common], help="publish a qcow2/raw disk image")
    push.add_argument("--kind", required=True, choices=sorted(KINDS))
    push.add_argument(
        "--platform", default="linux/amd64", help="<os>/<arch> (default: %(default)s)"
    )
    push.add_argument("file", metavar="FILE")
    push.add_argument("ref", metavar="REF", help="<name>:<tag> or <puddle>/<name>:<tag>")

    res = sub.add_parser("resolve", parents=[common], help="show what a reference resolves to")
    res.add_argument("--platform", default="linux/amd64", help="<os>/<arch> (default: %(default)s)")
    res.add_argument("--json", action="store_true", help="print JSON")
    res.add_argument("ref", metavar="REF")

    ls = sub.add_parser("ls", parents=[common], help="list artifacts")
    ls.add_argument("pattern", nargs="?", default="*", help="glob on <repository>:<tag>")
    return parser


@contextmanager
def _progress_bar(path: str) -> Iterator[Progress | None]:
    """A rich progress bar on a terminal, for files big enough to wait for."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    console = Console(stderr=True)
    if not console.is_terminal or os.path.getsize(path) < _PROGRESS_THRESHOLD:
        yield None
        return
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, object] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(
                    "hashing" if phase == "hash" else "uploading", total=total
                )
            bar.update(tasks[phase], completed=done)  # type: ignore[arg-type]

        yield report


def _push(args: argparse.Namespace) -> int:
    ref = parse_reference(args.ref)
    store = open_store(args.curator)
    with _progress_bar(args.file) as progress:
        result = push_generic(store, ref, args.file, args.puddle, args.platform, progress=progress)
    note = "" if result.uploaded else " (blob was already there)"
    print(f"pushed {result.repository}:{result.tag} {result.platform}{note}")
    print(f"artifact_id {result.artifact_id}")
    print(f"digest      {result.digest}")
    print(f"size        {result.size}")
    return 0


def _resolve(args: argparse.Namespace) -> int:
    resolved = resolve(args.ref, args.curator, args.puddle, args.platform)
    if args.json:
        print(json.dumps(resolved.to_dict(), indent=2, sort_keys=True))
        return 0
    rows = [
        ("artifact_id", resolved.artifact_id),
        ("version", resolved.version),
        ("digest", resolved.digest),
        ("size", str(resolved.size)),
        ("platform", resolved.platform),
        ("repository", resolved.repository),
        ("media_type", resolved.media_type),
        ("pinned", resolved.reference),
    ]
    for key, value in rows:
        print(f"{key:<12}{value}")
    return 0


def _ls(args: argparse.Namespace) -> int:
    store: ArtifactStore = open_store(args.curator)
    for repository in store.repositories():
        for tag in store.tags(repository):
            if not fnmatch.fnmatchcase(f"{repository}:{tag}", args.pattern):
                continue
            data = store.get_manifest(repository, tag)
            if data is None:  # deleted between listing and reading
                continue
            where = f"{repository}:{tag}"
            artifact_id = hashlib.sha256(data).hexdigest()
            try:
                platforms = ",".join(layer.platform for layer in parse_manifest(where, data).layers)
            except VigoError:
                platforms = "(not a vigo artifact)"
            print(f"{where}\t{artifact_id[:12]}\t{platforms}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vigo-curator`` console script."""
    args = _parser().parse_args(argv)
    commands = {"push": _push, "resolve": _resolve, "ls": _ls}
    try:
        return commands[args.command](args)
    except VigoError as exc:
        print(f"vigo-curator: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
