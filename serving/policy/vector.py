"""Vectorised evaluation of typed expressions over normalised batch columns.

Columns come from ``inputs.normalize_batch``. Null semantics (see docs/policy.md): every
comparison and ``in`` test with a null operand is false (``!=`` and ``not in`` included);
a bare boolean field that is null counts as false; ``not`` negates the decided value;
arithmetic with a null, and division by zero, give null.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

import numpy as np

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
from serving.policy.inputs import TextColumn

Columns = Mapping[str, "np.ndarray | TextColumn"]
Number = "np.ndarray | float"

ORDERINGS: dict[str, Callable] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def evaluate_condition(node: Node, columns: Columns, catalogue: Catalogue, n: int) -> np.ndarray:
    """A boolean array of shape (n,): where the condition holds."""
    if isinstance(node, Literal):
        return np.full(n, bool(node.value))
    if isinstance(node, FieldRef):
        return np.asarray(columns[node.name] == 1.0)
    if isinstance(node, Not):
        return ~evaluate_condition(node.operand, columns, catalogue, n)
    if isinstance(node, And | Or):
        combine = np.logical_and if isinstance(node, And) else np.logical_or
        result = evaluate_condition(node.operands[0], columns, catalogue, n)
        for operand in node.operands[1:]:
            result = combine(result, evaluate_condition(operand, columns, catalogue, n))
        return result
    if isinstance(node, IsNull):
        nulls = _null_mask(node.operand, columns, catalogue, n)
        return ~nulls if node.negated else nulls
    if isinstance(node, Member):
        return _member(node, columns, catalogue, n)
    assert isinstance(node, Compare)
    return _compare(node, columns, catalogue, n)


def evaluate_number(node: Node, columns: Columns, n: int) -> np.ndarray | float:
    """Float64 values of a numeric expression (NaN = null), or a float for a constant."""
    if isinstance(node, Literal):
        return float(node.value)
    if isinstance(node, FieldRef):
        return columns[node.name]  # type: ignore[return-value]
    if isinstance(node, Negate):
        return -evaluate_number(node.operand, columns, n)
    if isinstance(node, Call):
        args = [evaluate_number(arg, columns, n) for arg in node.args]
        if node.function == "abs":
            return np.abs(args[0])
        return (np.maximum if node.function == "max" else np.minimum)(args[0], args[1])
    assert isinstance(node, Arithmetic)
    left = evaluate_number(node.left, columns, n)
    right = evaluate_number(node.right, columns, n)
    if node.op == "/":
        return _divide(left, right)
    return {"+": operator.add, "-": operator.sub, "*": operator.mul}[node.op](left, right)


def _divide(left: np.ndarray | float, right: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.divide(left, right)
    return np.where(np.equal(right, 0.0), np.nan, quotient)


def _kind(node: Node, catalogue: Catalogue) -> str:
    if isinstance(node, FieldRef):
        return catalogue[node.name].kind
    if isinstance(node, Literal):
        return "literal" if isinstance(node.value, str) else "number"
    return "number"


def _null_mask(node: Node, columns: Columns, catalogue: Catalogue, n: int) -> np.ndarray:
    kind = _kind(node, catalogue)
    if kind in ("category", "text"):
        column = columns[node.name]  # type: ignore[attr-defined]
        codes = column.codes if isinstance(column, TextColumn) else column
        return codes < 0
    return np.broadcast_to(np.isnan(evaluate_number(node, columns, n)), (n,)).copy()


def _codes(node: Node, columns: Columns) -> np.ndarray:
    column = columns[node.name]  # type: ignore[attr-defined]
    return column.codes if isinstance(column, TextColumn) else column


def _code_of(node: FieldRef, value: str, columns: Columns, catalogue: Catalogue) -> int:
    column = columns[node.name]
    if isinstance(column, TextColumn):
        return column.index.get(value, -2)
    return catalogue[node.name].choices.index(value)


def _member(node: Member, columns: Columns, catalogue: Catalogue, n: int) -> np.ndarray:
    if _kind(node.operand, catalogue) == "number":
        values = np.broadcast_to(evaluate_number(node.operand, columns, n), (n,))
        found = np.isin(values, np.asarray(node.items.items, dtype=np.float64))
        return (~found & ~np.isnan(values)) if node.negated else found
    operand = node.operand
    assert isinstance(operand, FieldRef)
    codes = _codes(operand, columns)
    wanted = [_code_of(operand, str(item), columns, catalogue) for item in node.items.items]
    size = max(int(codes.max(initial=-1)), *wanted) + 2
    lookup = np.zeros(size, dtype=bool)
    lookup[[code + 1 for code in wanted if code >= 0]] = True
    if node.negated:
        lookup = ~lookup
        lookup[0] = False
    return lookup[codes + 1]


def _compare(node: Compare, columns: Columns, catalogue: Catalogue, n: int) -> np.ndarray:
    kinds = {_kind(node.left, catalogue), _kind(node.right, catalogue)}
    if kinds <= {"number"} or kinds == {"bool"} or kinds == {"bool", "number"}:
        left = np.broadcast_to(_numeric_side(node.left, columns, n), (n,))
        right = np.broadcast_to(_numeric_side(node.right, columns, n), (n,))
        if node.op == "!=":
            return (left != right) & ~np.isnan(left) & ~np.isnan(right)
        return np.asarray(ORDERINGS[node.op](left, right))
    left_codes, right_codes = _code_sides(node, columns, catalogue)
    if node.op == "==":
        return np.asarray((left_codes == right_codes) & (left_codes >= 0))
    different = np.asarray((left_codes != right_codes) & (left_codes >= 0))
    return different & (right_codes >= 0) if isinstance(right_codes, np.ndarray) else different


def _numeric_side(node: Node, columns: Columns, n: int) -> np.ndarray | float:
    if isinstance(node, Literal) and isinstance(node.value, bool):
        return 1.0 if node.value else 0.0
    return evaluate_number(node, columns, n)


def _code_sides(
    node: Compare, columns: Columns, catalogue: Catalogue
) -> tuple[np.ndarray | int, np.ndarray | int]:
    left, right = node.left, node.right
    if isinstance(left, Literal):
        left, right = right, left
    assert isinstance(left, FieldRef)
    if isinstance(right, Literal):
        return _codes(left, columns), _code_of(left, str(right.value), columns, catalogue)
    return _codes(left, columns), _codes(right, columns)
