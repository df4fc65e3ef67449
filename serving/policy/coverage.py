"""Finding rows that can never match: static analysis of conditions.

Scope (documented in docs/policy.md). A condition is split into disjuncts (a top-level ``or``)
of conjunctions (``and``) of atoms. A simple atom constrains one field: a comparison of a field
with a constant, ``in`` / ``not in`` a list, ``is [not] null``, a bare boolean field, or ``not``
of one of these. Each field's constraints in a conjunction are intersected into a region (a
union of intervals plus null for numbers, a set of values for the others). Any other atom is
opaque and compared by its structure. An earlier row covers a later one when every disjunct of
the later row lies inside one disjunct of the earlier row: each field the earlier disjunct
constrains is constrained at least as tightly, and each of its opaque atoms appears too. A
disjunct whose region is empty can never be true. Coverage by a union of several earlier rows
is not detected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.policy.catalogue import Catalogue
from serving.policy.expressions import (
    And,
    Compare,
    FieldRef,
    IsNull,
    Literal,
    Member,
    Node,
    Not,
    Or,
)

INF = math.inf
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Interval:
    low: float
    low_closed: bool
    high: float
    high_closed: bool

    def empty(self) -> bool:
        if self.low < self.high:
            return False
        return not (self.low == self.high and self.low_closed and self.high_closed)

    def within(self, other: Interval) -> bool:
        low_ok = other.low < self.low or (
            other.low == self.low and (other.low_closed or not self.low_closed)
        )
        high_ok = self.high < other.high or (
            self.high == other.high and (other.high_closed or not self.high_closed)
        )
        return self.empty() or (low_ok and high_ok)

    def intersect(self, other: Interval) -> Interval:
        low = max((self.low, not self.low_closed), (other.low, not other.low_closed))
        high = min((self.high, self.high_closed), (other.high, other.high_closed))
        return Interval(low[0], not low[1], high[0], high[1])


@dataclass(frozen=True)
class NumberRegion:
    intervals: tuple[Interval, ...]
    null: bool

    def empty(self) -> bool:
        return not self.null and all(i.empty() for i in self.intervals)

    def within(self, other: NumberRegion) -> bool:
        if self.null and not other.null:
            return False
        return all(any(i.within(j) for j in other.intervals) for i in self.intervals)

    def intersect(self, other: NumberRegion) -> NumberRegion:
        pieces = [i.intersect(j) for i in self.intervals for j in other.intervals]
        return NumberRegion(tuple(p for p in pieces if not p.empty()), self.null and other.null)

    def complement(self) -> NumberRegion:
        gaps, low, low_closed = [], -INF, True
        for piece in sorted(self.intervals, key=lambda i: (i.low, not i.low_closed)):
            gaps.append(Interval(low, low_closed, piece.low, not piece.low_closed))
            if (piece.high, piece.high_closed) > (low, not low_closed):
                low, low_closed = piece.high, not piece.high_closed
        gaps.append(Interval(low, low_closed, INF, True))
        return NumberRegion(tuple(g for g in gaps if not g.empty()), not self.null)


@dataclass(frozen=True)
class ValueRegion:
    """A set of values (None = null); ``cofinite`` means every value except ``members``."""

    members: frozenset
    cofinite: bool = False

    def empty(self) -> bool:
        return not self.cofinite and not self.members

    def within(self, other: ValueRegion) -> bool:
        if not self.cofinite:
            if other.cofinite:
                return not (self.members & other.members)
            return self.members <= other.members
        return other.cofinite and other.members <= self.members

    def intersect(self, other: ValueRegion) -> ValueRegion:
        if self.cofinite and other.cofinite:
            return ValueRegion(self.members | other.members, True)
        if self.cofinite or other.cofinite:
            finite, excluded = (other, self) if self.cofinite else (self, other)
            return ValueRegion(finite.members - excluded.members)
        return ValueRegion(self.members & other.members)

    def complement(self) -> ValueRegion:
        return ValueRegion(self.members, not self.cofinite)


Region = NumberRegion | ValueRegion
FULL_NUMBER = NumberRegion((Interval(-INF, True, INF, True),), True)


@dataclass(frozen=True)
class Conjunction:
    regions: dict[str, Region]
    opaque: frozenset[Node]

    def empty(self) -> bool:
        return any(region.empty() for region in self.regions.values())

    def covers(self, other: Conjunction) -> bool:
        """True when every invoice matching ``other`` also matches this conjunction."""
        if not self.opaque <= other.opaque:
            return False
        for name, region in self.regions.items():
            if name in other.regions:
                if not other.regions[name].within(region):  # type: ignore[arg-type]
                    return False
            elif not _full(region):
                return False
        return True


def _full(region: Region) -> bool:
    if isinstance(region, NumberRegion):
        return FULL_NUMBER.within(region)
    return region.cofinite and not region.members


def disjuncts(node: Node, catalogue: Catalogue) -> list[Conjunction]:
    """The condition as a list of conjunctions whose union it is."""
    branches = node.operands if isinstance(node, Or) else (node,)
    return [_conjunction(branch, catalogue) for branch in branches]


def covers(earlier: Node, later: Node, catalogue: Catalogue) -> bool:
    """True when ``earlier`` holds for every invoice on which ``later`` holds."""
    if earlier == later:
        return True
    mine = disjuncts(earlier, catalogue)
    return all(any(e.covers(part) for e in mine) for part in disjuncts(later, catalogue))


def never_true(node: Node, catalogue: Catalogue) -> bool:
    """True when no invoice can satisfy the condition (within the analysis' scope)."""
    return all(conjunction.empty() for conjunction in disjuncts(node, catalogue))


def _conjunction(node: Node, catalogue: Catalogue) -> Conjunction:
    atoms = node.operands if isinstance(node, And) else (node,)
    regions: dict[str, Region] = {}
    opaque: set[Node] = set()
    for atom in atoms:
        if isinstance(atom, Literal) and atom.value is True:
            continue
        constraint = atom_region(atom, catalogue)
        if constraint is None:
            opaque.add(atom)
            continue
        name, region = constraint
        if name in regions:
            region = region.intersect(regions[name])  # type: ignore[arg-type]
        regions[name] = region
    return Conjunction(regions, frozenset(opaque))


def atom_region(atom: Node, catalogue: Catalogue) -> tuple[str, Region] | None:
    """The (field, region) a simple atom constrains, or None for an opaque atom."""
    if isinstance(atom, Not):
        inner = atom_region(atom.operand, catalogue)
        if inner is None:
            return None
        return inner[0], _complement(inner[1], catalogue[inner[0]].kind, catalogue, inner[0])
    if isinstance(atom, FieldRef) and catalogue[atom.name].kind == "bool":
        return atom.name, ValueRegion(frozenset({True}))
    if isinstance(atom, IsNull) and isinstance(atom.operand, FieldRef):
        return _null_region(atom.operand.name, atom.negated, catalogue)
    if isinstance(atom, Member) and isinstance(atom.operand, FieldRef):
        return _member_region(atom, catalogue)
    if isinstance(atom, Compare):
        return _compare_region(atom, catalogue)
    return None


def _domain(name: str, catalogue: Catalogue) -> ValueRegion:
    field = catalogue[name]
    if field.kind == "bool":
        return ValueRegion(frozenset({True, False, None}))
    if field.kind == "category":
        return ValueRegion(frozenset((*field.choices, None)))
    return ValueRegion(frozenset(), cofinite=True)


def _complement(region: Region, kind: str, catalogue: Catalogue, name: str) -> Region:
    if isinstance(region, NumberRegion):
        return region.complement()
    return _domain(name, catalogue).intersect(region.complement())


def _non_null(name: str, values: set, catalogue: Catalogue, keep: bool) -> ValueRegion:
    """``values`` (keep) or every non-null value except ``values`` (not keep)."""
    if keep:
        return ValueRegion(frozenset(values))
    excluded = ValueRegion(frozenset({*values, None}), cofinite=True)
    return _domain(name, catalogue).intersect(excluded)


def _null_region(name: str, negated: bool, catalogue: Catalogue) -> tuple[str, Region]:
    if catalogue[name].kind == "number":
        region = NumberRegion((), True)
        return name, region.complement() if negated else region
    return name, _non_null(name, set(), catalogue, False) if negated else ValueRegion(
        frozenset({None})
    )


def _points(values: tuple) -> NumberRegion:
    return NumberRegion(tuple(Interval(v, True, v, True) for v in values), False)


def _member_region(atom: Member, catalogue: Catalogue) -> tuple[str, Region]:
    name = atom.operand.name  # type: ignore[attr-defined]
    if catalogue[name].kind == "number":
        points = _points(atom.items.items)
        region = points.complement() if atom.negated else points
        return name, NumberRegion(region.intervals, False)
    return name, _non_null(name, set(atom.items.items), catalogue, not atom.negated)


def _compare_region(atom: Compare, catalogue: Catalogue) -> tuple[str, Region] | None:
    left, right, op = atom.left, atom.right, atom.op
    if isinstance(left, Literal) and isinstance(right, FieldRef):
        left, right, op = right, left, FLIPPED[op]
    if not (isinstance(left, FieldRef) and isinstance(right, Literal)):
        return None
    name, value = left.name, right.value
    if catalogue[name].kind != "number":
        return name, _non_null(name, {value}, catalogue, op == "==")
    return name, _number_region(op, float(value))


def _number_region(op: str, value: float) -> NumberRegion:
    intervals = {
        "<": (Interval(-INF, True, value, False),),
        "<=": (Interval(-INF, True, value, True),),
        ">": (Interval(value, False, INF, True),),
        ">=": (Interval(value, True, INF, True),),
        "==": (Interval(value, True, value, True),),
        "!=": (Interval(-INF, True, value, False), Interval(value, False, INF, True)),
    }[op]
    return NumberRegion(intervals, False)
