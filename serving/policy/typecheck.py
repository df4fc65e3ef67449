"""Type checking of parsed expressions against the field catalogue.

Types are ``number``, ``bool``, ``text`` and ``category`` (with its choices); literals are
``number``, ``bool`` or ``literal`` (quoted text). A condition must be ``bool``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from serving.policy.catalogue import Catalogue, Field
from serving.policy.expressions import (
    And,
    Arithmetic,
    Call,
    Compare,
    ExpressionError,
    FieldRef,
    IsNull,
    ListLiteral,
    Literal,
    Member,
    Negate,
    Node,
    Not,
    Or,
    field_names,
)


@dataclass(frozen=True)
class ValueType:
    """The type of an expression; ``field`` is set when the expression is a bare field."""

    kind: str
    choices: tuple[str, ...] = ()
    field: str = ""

    def describe(self) -> str:
        name = f"field {self.field!r} " if self.field else ""
        if self.kind == "category":
            return f"{name}(category: {', '.join(self.choices)})"
        return f"{name}({self.kind})" if name else self.kind


def check_condition(node: Node, catalogue: Catalogue) -> None:
    """Raise ``ExpressionError`` unless ``node`` is a well-typed true/false condition."""
    found = type_of(node, catalogue)
    if found.kind != "bool":
        raise ExpressionError(
            f"a condition must be true or false, this is {found.describe()}",
            node.position,
            found.field,
            fix="compare it, e.g. 'p_late >= 0.5'",
        )


def check_number(node: Node, catalogue: Catalogue) -> None:
    """Raise ``ExpressionError`` unless ``node`` is a well-typed numeric expression."""
    _expect_number(node, catalogue, "this expression")


def type_of(node: Node, catalogue: Catalogue) -> ValueType:
    """The type of ``node``; raises ``ExpressionError`` on the first type mismatch."""
    if isinstance(node, FieldRef):
        return _field_type(_lookup(node, catalogue))
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return ValueType("bool")
        return ValueType("number" if isinstance(node.value, float) else "literal")
    if isinstance(node, ListLiteral):
        raise ExpressionError("a list is only allowed after 'in'", node.position)
    if isinstance(node, Negate | Arithmetic | Call):
        for child in _operands(node):
            _expect_number(child, catalogue, f"'{_symbol(node)}'")
        return ValueType("number")
    if isinstance(node, Compare):
        _check_compare(node, catalogue)
    elif isinstance(node, Member):
        _check_member(node, catalogue)
    elif isinstance(node, IsNull):
        type_of(node.operand, catalogue)
    elif isinstance(node, Not | And | Or):
        for child in _operands(node):
            _expect_bool(child, catalogue, f"'{_symbol(node)}'")
    return ValueType("bool")


def _lookup(node: FieldRef, catalogue: Catalogue) -> Field:
    if node.name in catalogue:
        return catalogue[node.name]
    close = difflib.get_close_matches(node.name, list(catalogue), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see docs/policy.md for the field list"
    raise ExpressionError(f"unknown field {node.name!r}", node.position, node.name, fix=hint)


def _field_type(field: Field) -> ValueType:
    return ValueType(field.kind, field.choices, field.name)


def _operands(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Negate | Not):
        return (node.operand,)
    if isinstance(node, Arithmetic):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    assert isinstance(node, And | Or)
    return node.operands


def _symbol(node: Node) -> str:
    if isinstance(node, Arithmetic):
        return node.op
    if isinstance(node, Call):
        return node.function + "()"
    return {Negate: "-", Not: "not", And: "and", Or: "or"}[type(node)]


def _expect_number(node: Node, catalogue: Catalogue, where: str) -> None:
    found = type_of(node, catalogue)
    if found.kind != "number":
        raise ExpressionError(
            f"{where} needs a number, got {found.describe()}",
            node.position,
            found.field,
            fix="use a numeric field or a number",
        )


def _expect_bool(node: Node, catalogue: Catalogue, where: str) -> None:
    found = type_of(node, catalogue)
    if found.kind != "bool":
        raise ExpressionError(
            f"{where} needs a true/false condition, got {found.describe()}",
            node.position,
            found.field,
            fix="compare the value, e.g. 'rel_open_tickets > 0'",
        )


def _check_compare(node: Compare, catalogue: Catalogue) -> None:
    left, right = type_of(node.left, catalogue), type_of(node.right, catalogue)
    field = left.field or right.field
    if not field_names(node):
        raise ExpressionError(
            "this comparison has no field on either side", node.position, fix="compare a field"
        )
    if node.op not in ("==", "!="):
        if left.kind != "number" or right.kind != "number":
            bad = left if left.kind != "number" else right
            raise ExpressionError(
                f"'{node.op}' orders numbers only, got {bad.describe()}",
                node.position,
                field,
                fix="use == or != (or 'in [...]') for bool, category and text fields",
            )
        return
    if _compatible(left, right):
        _check_choice(node, left, right)
        return
    raise ExpressionError(
        f"cannot compare {left.describe()} with {right.describe()}",
        node.position,
        field,
        fix=_compare_fix(left if left.field else right),
    )


def _compatible(left: ValueType, right: ValueType) -> bool:
    kinds = {left.kind, right.kind}
    if len(kinds) == 1:
        same_category = left.kind != "category" or left.choices == right.choices
        return left.kind != "text" and left.kind != "literal" and same_category
    return kinds in ({"category", "literal"}, {"text", "literal"})


def _check_choice(node: Compare, left: ValueType, right: ValueType) -> None:
    category = left if left.kind == "category" else right
    literal = right if category is left else left
    if category.kind != "category" or literal.kind != "literal":
        return
    value = node.right.value if literal is right else node.left.value  # type: ignore[attr-defined]
    if value not in category.choices:
        raise ExpressionError(
            f"{value!r} is not a value of {category.describe()}",
            node.position,
            category.field,
            fix=f"use one of {', '.join(category.choices)}",
        )


def _compare_fix(field: ValueType) -> str:
    if field.kind == "bool":
        return f"write '{field.field}' or 'not {field.field}', or compare with true/false"
    if field.kind == "category":
        return f"compare with a quoted value: one of {', '.join(field.choices)}"
    if field.kind == "text":
        return f"compare {field.field!r} with a quoted text"
    return f"compare {field.field!r} with a number or a numeric field"


def _check_member(node: Member, catalogue: Catalogue) -> None:
    operand = type_of(node.operand, catalogue)
    items = node.items.items
    numbers = all(isinstance(item, float) for item in items)
    texts = all(isinstance(item, str) for item in items)
    if operand.kind == "number" and numbers:
        return
    if operand.kind in ("category", "text") and texts:
        unknown = [item for item in items if operand.kind == "category"]
        unknown = [item for item in unknown if item not in operand.choices]
        if not unknown:
            return
        raise ExpressionError(
            f"{unknown[0]!r} is not a value of {operand.describe()}",
            node.items.position,
            operand.field,
            fix=f"use values among {', '.join(operand.choices)}",
        )
    raise ExpressionError(
        f"'in' cannot test {operand.describe()} against this list",
        node.position,
        operand.field,
        fix="test numbers against numbers and category or text fields against quoted texts",
    )
