"""The package's public API is what the README's "Public API" section names: ``__all__``
says exactly that, and each name imports. A name added to ``__all__`` without a word in the
README, or documented but gone, fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented_names() -> set[str]:
    """The names the bullets of the README's "Public API" section give in backticks (a
    function's name before its parenthesis)."""
    section = README.read_text().split("\n## Public API\n", 1)[1].split("\n## ", 1)[0]
    bullets = re.findall(r"^- (.*(?:\n  .*)*)", section, re.MULTILINE)
    return {name for bullet in bullets for name in re.findall(r"`([A-Za-z_]\w*)[`(]", bullet)}


def test_all_is_exactly_the_documented_public_api() -> None:
    package = importlib.import_module("pulumi_vigo_vm")
    documented = _documented_names()
    assert len(documented) >= 15  # the section was found and read
    assert sorted(package.__all__) == sorted(documented)


def test_every_public_name_imports() -> None:
    package = importlib.import_module("pulumi_vigo_vm")
    for name in package.__all__:
        value = getattr(package, name)
        assert getattr(value, "__name__", name) == name, name
