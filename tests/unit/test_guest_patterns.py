"""Every regular expression applied to guest output is linear on hostile input.

A guest writes its console, answers for its agent and fills the host's neighbour table, so
a pattern that backtracks (nested or adjacent unbounded quantifiers that can match the same
text) lets it stall the provider: ``^[+!]{3,}(.{1,60}?)[+!]{3,}$`` took 1.8 s on one
4000-character ``ci-info`` line of ``+``, and half an hour on a 4 MiB console.

The rule is enforced in three parts: the guest-facing modules apply only module-level
compiled patterns (no ``re.search(r"…", …)`` inline), each of those is registered in its
module's ``GUEST_PATTERNS``, and each registered pattern is fed adversarial input derived
from its own syntax tree (long runs of the characters each quantifier accepts, after the
text that leads to it, with and without a terminator it refuses; the pattern's minimal
match repeated and its near-miss repeated), each 1 MiB, in a child process killed when one
input passes a generous bound (:mod:`support.bounded`). A new pattern in these modules is
therefore tested without anyone writing a test for it.
"""

from __future__ import annotations

import ast
import inspect
import re
import re._constants as c
import re._parser as sre
from collections.abc import Iterator
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from support.bounded import first_over

from pulumi_vigo_vm.virt import hypervisor
from pulumi_vigo_vm.vm.guest import addresses, console, sighting, waiting

GUEST_FACING: tuple[ModuleType, ...] = (console, addresses, sighting, waiting, hypervisor)
"""The modules that read what a guest wrote: console logs, agent answers, leases, the
neighbour table."""

LENGTH = 1 << 20
"""Each adversarial input is 1 MiB (the console's lines are cut to 4 KiB before matching;
a pattern linear here is linear anywhere)."""

BOUND_S = 10.0
"""Per input: a linear pass over 1 MiB takes well under 0.1 s here; a quadratic one takes
hours. Generous, for a machine shared by many test runs."""

ALPHABET = [chr(code) for code in range(0x20, 0x7F)] + ["\t", "\x1b", "\x00", "é", "\ufffd"]


def registered() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for module in GUEST_FACING:
        for pattern in getattr(module, "GUEST_PATTERNS", ()):
            found.append((f"{module.__name__.rsplit('.', 1)[-1]}:{pattern.pattern!r}", pattern))
    return found


# -- every pattern is registered ----------------------------------------------------------


@pytest.mark.parametrize("module", GUEST_FACING, ids=lambda m: m.__name__)
def test_every_compiled_pattern_of_a_guest_facing_module_is_registered(
    module: ModuleType,
) -> None:
    compiled = [v for v in vars(module).values() if isinstance(v, re.Pattern)]
    registry = getattr(module, "GUEST_PATTERNS", ())
    assert all(any(p is r for r in registry) for p in compiled), (
        f"{module.__name__}: add every compiled pattern to GUEST_PATTERNS"
    )


@pytest.mark.parametrize("module", GUEST_FACING, ids=lambda m: m.__name__)
def test_guest_facing_modules_apply_no_inline_pattern(module: ModuleType) -> None:
    """``re.search(r"…", text)`` and friends would bypass the registry: only
    ``re.compile`` (at module level) and ``re.escape`` are allowed."""
    tree = ast.parse(inspect.getsource(module))
    inline = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
        and node.func.attr not in ("compile", "escape")
    ]
    assert inline == [], f"{module.__name__}: inline re calls at lines {inline}"
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))]
    compiled_inside = [
        node.lineno
        for function in functions
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compile"
    ]
    assert compiled_inside == [], f"{module.__name__}: patterns compiled in functions"


# -- adversarial input from each pattern's own syntax -------------------------------------

_CATEGORIES = {
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    c.CATEGORY_DIGIT: str.isdecimal,
    c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdecimal(),
    c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    c.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
}
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)


def _in_class(items: list[tuple[Any, Any]], ch: str) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            hit = hit or ord(ch) == av
        elif op is c.RANGE:
            hit = hit or av[0] <= ord(ch) <= av[1]
        elif op is c.CATEGORY:
            hit = hit or _CATEGORIES[av](ch)
    return hit != negate


def _accepts(node: tuple[Any, Any], ch: str) -> bool:
    op, av = node
    if op is c.LITERAL:
        return ord(ch) == av
    if op is c.NOT_LITERAL:
        return ord(ch) != av
    if op is c.ANY:
        return ch != "\n"
    if op is c.IN:
        return _in_class(av, ch)
    return False


def _first(seq: Any) -> set[str]:
    """Characters a match of ``seq`` can start with (from :data:`ALPHABET`)."""
    for node in seq:
        op, av = node
        if op is c.AT:
            continue
        if op is c.SUBPATTERN:
            return _first(av[-1])
        if op is c.BRANCH:
            return set().union(*(_first(alt) for alt in av[1]))
        if op in _REPEATS:
            return _first(av[2])
        return {ch for ch in ALPHABET if _accepts(node, ch)}
    return set()


def _sample(seq: Any) -> str:
    """A short text ``seq`` matches (its shortest choices)."""
    text = ""
    for node in seq:
        op, av = node
        if op is c.SUBPATTERN:
            text += _sample(av[-1])
        elif op is c.BRANCH:
            text += _sample(av[1][0])
        elif op in _REPEATS:
            text += _sample(av[2]) * av[0]
        elif op is not c.AT:
            text += next(ch for ch in ALPHABET if _accepts(node, ch))
    return text


def _quantifiers(seq: Any, before: str) -> Iterator[tuple[str, set[str]]]:
    """(text leading to it, characters it accepts) for every quantifier in ``seq``."""
    text = before
    for node in seq:
        op, av = node
        if op in _REPEATS:
            yield text, _first(av[2])
            yield from _quantifiers(av[2], text)
        elif op is c.SUBPATTERN:
            yield from _quantifiers(av[-1], text)
        elif op is c.BRANCH:
            for alternative in av[1]:
                yield from _quantifiers(alternative, text)
        text += _sample([node])


def _picks(chars: set[str]) -> list[str]:
    ordered = sorted(chars)
    return sorted({ordered[0], ordered[len(ordered) // 2], ordered[-1]}) if ordered else []


def adversarial(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(description, input) pairs, each about :data:`LENGTH` characters."""
    tree = sre.parse(pattern.pattern, pattern.flags)
    whole = _sample(tree) or "a"
    inputs = [
        ("minimal match repeated", whole * (LENGTH // len(whole) + 1)),
        ("near miss repeated", (whole[:-1] + "\x00") * (LENGTH // len(whole) + 1)),
    ]
    for before, chars in _quantifiers(tree, ""):
        refused = next((ch for ch in ALPHABET if ch not in chars), "\x00")
        picks = _picks(chars)
        for ch in picks:
            run = ch * LENGTH
            inputs.append((f"{before!r} + {ch!r}*1Mi", before + run))
            inputs.append((f"{before!r} + {ch!r}*1Mi + {refused!r}", before + run + refused))
        if len(picks) > 1:
            mixed = ("".join(picks) * (LENGTH // len(picks)))[:LENGTH]
            inputs.append((f"{before!r} + {''.join(picks)!r} mixed", before + mixed + refused))
    return inputs


def test_the_adversarial_inputs_catch_the_defect_this_replaced() -> None:
    """The generator and the bound find the backtracking input of the old ``ci-info``
    title pattern (1.8 s on 4000 characters, hours on 1 MiB)."""
    old = re.compile(r"^[+!]{3,}(.{1,60}?)[+!]{3,}$")
    calls = [partial(_scan, old, text) for _, text in adversarial(old)]
    assert first_over(2.0, calls) is not None


@pytest.mark.parametrize(("name", "pattern"), registered(), ids=[n for n, _ in registered()])
def test_each_guest_pattern_is_linear_on_adversarial_input(
    name: str, pattern: re.Pattern[str]
) -> None:
    inputs = adversarial(pattern)
    calls = [partial(_scan, pattern, text) for _, text in inputs]
    slow = first_over(BOUND_S, calls)
    assert slow is None, f"{name} took over {BOUND_S} s on {inputs[slow][0]}"


def _scan(pattern: re.Pattern[str], text: str) -> None:
    """What a search, a match or a substitution costs at most: every start position."""
    for _ in pattern.finditer(text):
        pass
