"""Alias resolution: which old state a registration claims, as the engine's step generator.

Mirrors pkg/resource/deploy/step_generator.go (``generateAliases``, ``collapseAliasToUrn``,
``inheritedChildAlias``, ``getOldResource``) and the alias wire format read by source_eval.go.
The functions are pure; :class:`AliasTable` holds the run's claims (the step generator's
``sg.aliased``/``sg.aliases``) and is driven by the resource monitor under the run's lock, in
registration order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from pulumi.runtime.proto import resource_pb2

from ._protocol import STACK_TYPE
from .errors import HarnessError
from .state import ResourceState, Snapshot
from .urns import create_urn, new_urn, urn_name, urn_qualified_type, urn_type

__all__ = [
    "Alias",
    "AliasError",
    "AliasTable",
    "collapse_alias_to_urn",
    "duplicate_alias",
    "generate_aliases",
    "inherited_child_alias",
    "request_aliases",
]


class AliasError(HarnessError):
    """A registration's aliases conflict: the engine reports each conflict (diagnostics 2008
    and 2016) and bails with ``resource <urn> is invalid`` (step_generator.go)."""

    def __init__(self, urn: str, problems: list[str]) -> None:
        self.urn = urn
        self.problems = list(problems)
        super().__init__("\n".join([*problems, f"resource {urn} is invalid"]))


@dataclass(frozen=True)
class Alias:
    """One alias, as the engine's ``resource.Alias`` (sdk/go/common/resource/alias.go): either
    a whole old ``urn`` or a spec whose empty fields default to the resource's own."""

    urn: str = ""
    name: str = ""
    type: str = ""
    project: str = ""
    stack: str = ""
    parent: str = ""
    no_parent: bool = False


def request_aliases(request: resource_pb2.RegisterResourceRequest) -> list[Alias]:
    """A registration's aliases, read as the engine's ResourceMonitor does (source_eval.go's
    RegisterResource): ``aliasURNs`` (SDKs talking to monitors without the ``aliasSpecs``
    feature send full URNs they computed, parent aliases included), then ``aliases``, each a
    URN or a spec (what the Python SDK sends here: the harness's monitor, like the CLI's,
    reports RESOURCE_MONITOR_FEATURE_ALIAS_SPECS, so the engine computes the URNs)."""
    result = [Alias(urn=alias_urn) for alias_urn in request.aliasURNs]
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "spec":
            spec = alias.spec
            which = spec.WhichOneof("parent")
            result.append(
                Alias(
                    name=spec.name,
                    type=spec.type,
                    project=spec.project,
                    stack=spec.stack,
                    parent=spec.parentUrn if which == "parentUrn" else "",
                    no_parent=which == "noParent" and spec.noParent,
                )
            )
        elif alias.urn:
            result.append(Alias(urn=alias.urn))
    return result


def duplicate_alias(alias_urn: str, urn: str, other: str) -> str:
    """The engine's diagnostic 2008 (``GetDuplicateResourceAliasError``)."""
    return (
        f"Duplicate resource alias '{alias_urn}' applied to resource with URN '{urn}' "
        f"conflicting with resource with URN '{other}'"
    )


def collapse_alias_to_urn(
    name: str,
    typ: str,
    res_parent: str,
    alias: Alias,
    *,
    aliases: Mapping[str, str],
    project: str,
    stack: str,
) -> str:
    """The engine's ``collapseAliasToUrn``: fill an alias spec's blanks from the resource.

    An unset name/type is the resource's own; an unset parent the resource's parent, and a
    given parent that was itself found under an alias stands for that old URN (the child's
    old URN was built from it); no parent, or the root stack, means a top-level URN; an
    unset project/stack is this deployment's. ``aliases`` maps a new URN to the old URN it
    was found under (``sg.aliases``).
    """
    if alias.urn:
        return alias.urn
    # A given parent that was found under an alias stands for its old URN.
    parent = aliases.get(alias.parent, alias.parent) if alias.parent else res_parent
    if alias.no_parent or (parent and urn_qualified_type(parent) == STACK_TYPE):
        parent = ""
    return create_urn(
        alias.name or name,
        alias.type or typ,
        parent,
        alias.project or project,
        alias.stack or stack,
    )


def inherited_child_alias(
    child_type: str,
    child_name: str,
    parent_name: str,
    parent_alias: str,
    *,
    project: str,
    stack: str,
) -> str:
    """The engine's ``inheritedChildAlias``: a child's old URN under its parent's old URN.

    A child named after its parent (``{parent}-suffix``) is assumed to have been named after
    the parent's old name too, so the prefix is swapped for the alias's name.
    """
    alias_name = child_name
    if child_name.startswith(parent_name):
        alias_name = urn_name(parent_alias) + child_name[len(parent_name) :]
    return new_urn(stack, project, urn_qualified_type(parent_alias), child_type, alias_name)


def generate_aliases(
    name: str,
    typ: str,
    parent: str,
    res_aliases: list[Alias],
    *,
    aliases: Mapping[str, str],
    project: str,
    stack: str,
) -> list[str]:
    """The engine's ``generateAliases``: the resource's own aliases, then, when its parent
    was found under an alias, the inherited ones (for its current and each aliased
    name/type), without duplicates, in that order."""
    result: list[str] = []

    def add(alias_urn: str) -> None:
        if alias_urn not in result:
            result.append(alias_urn)

    def collapse(alias: Alias) -> str:
        return collapse_alias_to_urn(
            name, typ, parent, alias, aliases=aliases, project=project, stack=stack
        )

    for alias in res_aliases:
        add(collapse(alias))
    parent_alias = aliases.get(parent) if parent else None
    if parent_alias is not None:
        parent_name = urn_name(parent)
        add(
            inherited_child_alias(
                typ, name, parent_name, parent_alias, project=project, stack=stack
            )
        )
        for alias in res_aliases:
            child_alias = collapse(alias)
            add(
                inherited_child_alias(
                    urn_type(child_alias),
                    urn_name(child_alias),
                    parent_name,
                    parent_alias,
                    project=project,
                    stack=stack,
                )
            )
    return result


@dataclass
class AliasTable:
    """The step generator's alias bookkeeping for one run (pkg/resource/deploy/step_generator.go):
    ``aliased`` maps an old URN to the new URN that claimed it through an alias, ``aliases`` a
    new URN to the old URN it was found under (sg.aliased / sg.aliases).

    Components are not recorded in the harness's checkpoint; the trace an old component leaves
    is the ``parent`` of the resources recorded under it, so those URNs (``old_components``)
    stand for the engine's old component states when a component's aliases are resolved.
    """

    base: Snapshot
    project: str
    stack: str
    aliased: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    old_components: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.old_components = {
            r.parent
            for r in [*self.base.resources.values(), *self.base.pending_deletes]
            if r.parent and r.parent not in self.base.resources
        }

    def get_old_resource(
        self,
        request: resource_pb2.RegisterResourceRequest,
        urn: str,
        registered: Collection[str],
    ) -> tuple[ResourceState | None, str, list[str]]:
        """The engine's ``getOldResource``: (old state, the alias it was found under, errors).

        The URN is looked up first, then each alias in order; the first alias with an old state
        is claimed (recorded so the old one is not deleted, and so children inherit it). A
        claim on an old URN that is also registered in this deployment (``registered``), or
        that another resource already claimed, and a registration of a URN already claimed as
        an alias, are the engine's diagnostics 2008 and 2016 (sdk/go/common/diag/errors.go,
        worded alike). The engine keeps going to ``Check`` and the analyzers before it bails
        with ``resource <urn> is invalid``; the harness stops at once, as nothing further
        could succeed. Must be called with the run's lock held, in registration order.
        """
        problems: list[str] = []
        aliases = generate_aliases(
            request.name,
            request.type,
            request.parent,
            request_aliases(request),
            aliases=self.aliases,
            project=self.project,
            stack=self.stack,
        )
        previous = self.aliased.get(urn)
        if previous is not None:
            problems.append(
                f"Duplicate resource URN '{urn}' conflicting with alias on resource with URN "
                f"'{previous}'"
            )
        for candidate in [urn, *aliases]:
            old: ResourceState | None = None
            if request.custom:
                old = self.base.resources.get(candidate)
                found = old is not None
            else:
                found = candidate in self.old_components
            if not found:
                continue
            if candidate == urn:
                return old, "", problems
            if candidate in registered:
                # The engine passes the new URN twice here (GetDuplicateResourceAliasError).
                problems.append(duplicate_alias(candidate, urn, urn))
            claimed_by = self.aliased.get(candidate)
            if claimed_by is not None:
                problems.append(duplicate_alias(candidate, urn, claimed_by))
            self.aliased[candidate] = urn
            self.aliases[urn] = candidate
            return old, candidate, problems
        return None, "", problems
