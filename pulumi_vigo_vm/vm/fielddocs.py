"""The field table's ``doc`` of each VigoVm field, rendered where people read it: the inputs
and outputs tables of the reference page (``docs/vm.md``) and the attribute docstrings of
``VigoVmArgs`` and ``VigoVm`` (``vm/resource.py``, which editors show on hover).

``python -m pulumi_vigo_vm.vm.fielddocs`` rewrites both from :mod:`.fields` (run it from the
repository's root after changing a field); ``--check`` changes nothing and fails when either
is stale, as ``tests/unit/test_fields.py`` does. Pure but for :func:`main`: each rendering is
a function of the table and the text it rewrites.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from .fields import INPUTS, OUTPUTS, InputField, OutputField

__all__ = ["PAGE", "RESOURCE", "docstring", "main", "with_docstrings", "with_tables"]

PAGE = Path("docs/vm.md")
"""The reference page, from the repository's root."""
RESOURCE = Path("pulumi_vigo_vm/vm/resource.py")
"""The module declaring ``VigoVmArgs`` and ``VigoVm``, from the repository's root."""

_Field = InputField | OutputField
_TABLES: dict[str, tuple[str, str, tuple[_Field, ...]]] = {
    "inputs": ("input", "rule", INPUTS),
    "outputs": ("output", "meaning", OUTPUTS),
}
"""Each marked region of the page: its header and the fields it lists, in table order."""
_REGION = r"(<!-- BEGIN {name}\b[^>]*-->\n)(.*?)(<!-- END {name} -->)"
_ASIDE = re.compile(r"\(\[[^\]]+\]\(([^)#]+)(?:#[^)]*)?\)\)")
"""``([addresses](addresses.md))``: a pointer to another page, in parentheses."""
_LINK = re.compile(r"\[([^\]]+)\]\(([^)#]+)(?:#[^)]*)?\)")
_CODE = re.compile(r"`([^`]+)`")
_WIDTH = 100  # the project's line length (pyproject.toml, ruff)
_INDENT = "    "


def _table(header: str, meaning: str, fields: Iterable[_Field]) -> str:
    rows = [f"| {header} | {meaning} |", "|---|---|"]
    rows += [f"| `{f.name}` | {f.doc} |" for f in fields]
    return "\n".join(rows) + "\n"


def with_tables(page: str) -> str:
    """``page`` with each marked table (``<!-- BEGIN inputs ... -->`` to ``<!-- END inputs
    -->``, likewise ``outputs``) rendered from the field table."""
    for name, (header, meaning, fields) in _TABLES.items():
        region = re.search(_REGION.format(name=name), page, re.DOTALL)
        if region is None:
            raise ValueError(f"{PAGE} has no region <!-- BEGIN {name} --> ... <!-- END {name} -->")
        page = page[: region.start(2)] + _table(header, meaning, fields) + page[region.end(2) :]
    return page


def docstring(doc: str) -> str:
    """A field's ``doc`` (Markdown, as on the reference page) as an attribute docstring: a
    sentence, ``code`` in double backquotes, a link as its text and the page under ``docs/``."""
    if "\\" in doc or '"""' in doc:
        raise ValueError(f"a field's doc cannot carry a backslash or triple quotes: {doc!r}")
    text = _ASIDE.sub(lambda m: f"(see docs/{m.group(1)})", doc)
    text = _LINK.sub(lambda m: f"{m.group(1)} (docs/{m.group(2)})", text)
    text = _CODE.sub(r"``\1``", text)
    text = text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    lines = textwrap.wrap(
        f'"""{text}"""',
        width=_WIDTH,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) + "\n"


_EVERY_FIELD: tuple[_Field, ...] = (*INPUTS, *OUTPUTS)
_DOCS: dict[str, dict[str, str]] = {
    "VigoVmArgs": {f.name: f.doc for f in INPUTS if not f.set_by_resource},
    "VigoVm": {f.name: f.doc for f in _EVERY_FIELD},
}
"""The attributes each class documents from the table: ``VigoVmArgs`` the user's inputs,
``VigoVm`` every input and output."""


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def with_docstrings(source: str) -> str:
    """``source`` (the resource module) with the docstring under each field's attribute in
    ``VigoVmArgs`` and ``VigoVm`` rendered from the field table (any other stays)."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (first line, end line, text), 0-based
    for cls in ast.parse(source).body:
        if not isinstance(cls, ast.ClassDef) or cls.name not in _DOCS:
            continue
        docs = _DOCS[cls.name]
        for node, after in zip(cls.body, [*cls.body[1:], None], strict=True):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            if node.target.id not in docs:
                continue
            start = end = node.end_lineno or node.lineno
            if after is not None and _is_docstring(after):
                end = after.end_lineno or after.lineno
            edits.append((start, end, docstring(docs[node.target.id])))
    for start, end, text in sorted(edits, reverse=True):
        lines[start:end] = [text]
    return "".join(lines)


_TARGETS = ((PAGE, with_tables), (RESOURCE, with_docstrings))


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the page and the module (``--check``: report what is stale, exit 1)."""
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_vigo_vm.vm.fielddocs",
        description="Render the VigoVm field table into docs/vm.md and vm/resource.py.",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; fail if stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository's root")
    args = parser.parse_args(argv)
    stale = []
    for relative, render in _TARGETS:
        path = args.root / relative
        text = path.read_text()
        rendered = render(text)
        if rendered == text:
            continue
        stale.append(str(relative))
        if not args.check:
            path.write_text(rendered)
    if stale and args.check:
        print(f"stale: {', '.join(stale)}; run {parser.prog}", file=sys.stderr)
        return 1
    for name in stale:
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
