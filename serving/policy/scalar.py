"""Compiling typed expressions into Python closures for the single-invoice fast path.

Each node becomes a small closure over a dict of normalised values (``inputs.normalize_one``):
no numpy on length-1 arrays and no interpretation of the tree at decision time. The null
semantics are those of ``vector``; the tests check both paths agree on random inputs.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from serving.policy.catalogue import Catalogue
from serving.policy.expressions import (
    And,
    Arithmetic,
    Call,
    Compare,
    FieldRef,
    IsNull,
    Literal,
    Member,
    Negate,
    Node,
    Not,
    Or,
)

Values = dict[str, object]
Condition = Callable[[Values], bool]
NumberFn = Callable[[Values], float]
NAN = math.nan

ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_condition(node: Node, catalogue: Catalogue) -> Condition:
    """A closure deciding the condition for one invoice's normalised values."""
    if isinstance(node, Literal):
        constant = bool(node.value)
        return lambda values: constant
    if isinstance(node, FieldRef):
        name = node.name
        return lambda values: values[name] is True
    if isinstance(node, Not):
        inner = compile_condition(node.operand, catalogue)
        return lambda values: not inner(values)
    if isinstance(node, And | Or):
        parts = [compile_condition(operand, catalogue) for operand in node.operands]
        return _chain(parts, isinstance(node, And))
    if isinstance(node, IsNull):
        return _is_null(node, catalogue)
    if isinstance(node, Member):
        return _member(node, catalogue)
    assert isinstance(node, Compare)
    return _compare(node, catalogue)


def _chain(parts: list[Condition], conjunction: bool) -> Condition:
    """Nested two-operand closures: cheaper per call than ``all``/``any`` over a generator."""
    first, rest = parts[0], parts[1:]
    if not rest:
        return first
    second = _chain(rest, conjunction)
    if conjunction:
        return lambda values: first(values) and second(values)
    return lambda values: first(values) or second(values)


def compile_number(node: Node) -> NumberFn:
    """A closure computing a numeric expression (NaN = null) for one invoice."""
    if isinstance(node, Literal):
        constant = float(node.value)
        return lambda values: constant
    if isinstance(node, FieldRef):
        name = node.name
        return lambda values: values[name]  # type: ignore[return-value]
    if isinstance(node, Negate):
        inner = compile_number(node.operand)
        return lambda values: -inner(values)
    if isinstance(node, Call):
        return _call(node)
    assert isinstance(node, Arithmetic)
    left, right = compile_number(node.left), compile_number(node.right)
    if node.op == "/":
        return lambda values: _divide(left(values), right(values))
    combine = {"+": operator.add, "-": operator.sub, "*": operator.mul}[node.op]
    return lambda values: combine(left(values), right(values))


def _divide(left: float, right: float) -> float:
    return NAN if right == 0.0 else left / right


def _call(node: Call) -> NumberFn:
    args = tuple(compile_number(arg) for arg in node.args)
    if node.function == "abs":
        return lambda values: abs(args[0](values))
    pick = max if node.function == "max" else min

    def extreme(values: Values) -> float:
        a, b = args[0](values), args[1](values)
        return NAN if a != a or b != b else pick(a, b)

    return extreme


def _kind(node: Node, catalogue: Catalogue) -> str:
    if isinstance(node, FieldRef):
        return catalogue[node.name].kind
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return "bool"
        return "literal" if isinstance(node.value, str) else "number"
    return "number"


def _value(node: Node, catalogue: Catalogue) -> Callable[[Values], object]:
    if isinstance(node, Literal):
        constant = node.value
        return lambda values: constant
    if _kind(node, catalogue) == "number":
        return compile_number(node)
    name = node.name  # type: ignore[attr-defined]
    return lambda values: values[name]


def _is_null(node: IsNull, catalogue: Catalogue) -> Condition:
    value = _value(node.operand, catalogue)
    if _kind(node.operand, catalogue) == "number":
        test: Condition = lambda values: value(values) != value(values)  # noqa: E731
    else:
        test = lambda values: value(values) is None  # noqa: E731
    if node.negated:
        return lambda values: not test(values)
    return test


def _member(node: Member, catalogue: Catalogue) -> Condition:
    value = _value(node.operand, catalogue)
    items = frozenset(node.items.items)
    if not node.negated and isinstance(node.operand, FieldRef):
        name = node.operand.name
        return lambda values: values[name] in items
    if not node.negated:
        return lambda values: value(values) in items

    def not_in(values: Values) -> bool:
        found = value(values)
        return found is not None and found == found and found not in items

    return not_in


def _field_against_constant(node: Compare) -> Condition | None:
    """Closures reading the field directly for ``field <op> number``, the common case."""
    left, right = node.left, node.right
    if not (isinstance(left, FieldRef) and isinstance(right, Literal)):
        return None
    if not isinstance(right.value, float) or isinstance(right.value, bool):
        return None
    name, c = left.name, right.value
    shortcuts: dict[str, Condition] = {
        "<": lambda values: values[name] < c,  # type: ignore[operator]
        "<=": lambda values: values[name] <= c,  # type: ignore[operator]
        ">": lambda values: values[name] > c,  # type: ignore[operator]
        ">=": lambda values: values[name] >= c,  # type: ignore[operator]
        "==": lambda values: values[name] == c,
    }
    return shortcuts.get(node.op)


def _compare(node: Compare, catalogue: Catalogue) -> Condition:
    shortcut = _field_against_constant(node)
    if shortcut is not None:
        return shortcut
    left, right = _value(node.left, catalogue), _value(node.right, catalogue)
    if node.op in ORDERINGS:
        order = ORDERINGS[node.op]
        return lambda values: order(left(values), right(values))
    if node.op == "==":
        return lambda values: _present(left(values)) and left(values) == right(values)

    def different(values: Values) -> bool:
        a, b = left(values), right(values)
        return _present(a) and _present(b) and a != b

    return different


def _present(value: object) -> bool:
    return value is not None and value == value
