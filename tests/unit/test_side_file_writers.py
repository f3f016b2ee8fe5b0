"""The side-file rule, guarded at its root: a file on a host is replaced (``host.rename``,
or ``host.write_atomic`` onto a final name, which renames over whatever is there) only by
the few functions that prove it ours first. A new writer that renames over a name beside
one of our files (a record, a sidecar) must go through
:func:`pulumi_vigo_vm.hostfile.side.write_side`, or be added here with its reason.

A scan of the package's source, not a mock: the acts themselves are tested against real
files in tests/baseimage/test_acttime.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pulumi_vigo_vm

PACKAGE = Path(pulumi_vigo_vm.__file__).resolve().parent

ALLOWED = {
    # write_atomic onto a temporary name, then rename_noreplace (exclusive):
    ("vm/effects.py", "_write_seed", "write_atomic"),
    ("hostfile/ops.py", "_write_claim", "write_atomic"),
    ("hostfile/side.py", "write_side", "write_atomic"),
    # write_atomic onto a fresh random temporary name (curl's 0600 config: the URL off the
    # process list), removed after the download, swept after a killed run:
    ("baseimage/fetch.py", "fetch_on_host", "write_atomic"),
    # rename over a file: only once it is proven ours (side_owner), or inside the
    # caller's act-time guard (install's ``replace``: hostfile.unused):
    ("hostfile/side.py", "write_side", "rename"),
    ("hostfile/ops.py", "install", "rename"),
}


def _host_replacements() -> set[tuple[str, str, str]]:
    """(module, enclosing function, method) of every ``<…host>.rename`` or
    ``<…host>.write_atomic`` call outside the Host implementations."""
    found: set[tuple[str, str, str]] = set()
    for source in PACKAGE.rglob("*.py"):
        module = source.relative_to(PACKAGE).as_posix()
        if module.startswith(("hosts/", "testing/")):
            continue
        tree = ast.parse(source.read_text(), module)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                method = node.func.attr
                receiver = ast.unparse(node.func.value)
                if method in ("rename", "write_atomic") and receiver.endswith("host"):
                    found.add((module, function.name, method))
    return found


def test_only_the_side_file_helper_and_guarded_installs_replace_files_on_a_host() -> None:
    assert _host_replacements() == ALLOWED
