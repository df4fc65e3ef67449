"""The policy's expression language: a tokenizer and a recursive-descent parser to an AST.

Conditions are never evaluated as Python: text becomes a tree of the node classes below, which
``typecheck``, ``vector`` and ``scalar`` walk. Grammar, loosest binding first::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                       | ["not"] "in" list | "is" ["not"] "null"]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := number | "text" | true | false | name | name "(" sum ("," sum)* ")"
                | "(" condition ")" | list
    list       := "[" literal ("," literal)* "]"

A name is a field of the catalogue or a parameter of the policy; parameters are replaced by
their values while parsing, so every later stage sees only fields and literals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

FUNCTIONS = {"max": 2, "min": 2, "abs": 1}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<text>"[^"]*"|'[^']*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)


class ExpressionError(ValueError):
    """A condition that cannot be parsed or typed.

    Attributes:
        position: Character offset in the expression text.
        field: The field or name concerned, if any.
        fix: What the author should change.
    """

    def __init__(self, message: str, position: int, field: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.position = position
        self.field = field
        self.fix = fix


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


@dataclass(frozen=True)
class Node:
    """Base of every AST node; ``position`` is not part of equality."""

    position: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    value: float | str | bool


@dataclass(frozen=True)
class ListLiteral(Node):
    items: tuple[float | str, ...]


@dataclass(frozen=True)
class FieldRef(Node):
    name: str


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Member(Node):
    operand: Node
    items: ListLiteral
    negated: bool


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class And(Node):
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    operands: tuple[Node, ...]


TRUE = Literal(True)


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens; an unknown character is an error at its offset."""
    tokens: list[Token] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            raise ExpressionError(
                f"unexpected character {text[start]!r}",
                start,
                fix="write == to test equality"
                if text[start] == "="
                else "use ==, !=, <, <=, >, >=, and, or, not, in, is null, + - * / and ( )",
            )
        kind = match.lastgroup
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse(text: str, constants: Mapping[str, object] | None = None) -> Node:
    """Parse a condition or numeric expression into an AST.

    Args:
        text: The expression as written in the policy file.
        constants: Policy parameters; each name is replaced by a literal of its value.

    Returns:
        The root node.

    Raises:
        ExpressionError: On a syntax error, with its character offset.
    """
    parser = _Parser(tokenize(text), constants or {})
    node = parser.condition()
    parser.expect_end()
    return node


class _Parser:
    def __init__(self, tokens: list[Token], constants: Mapping[str, object]) -> None:
        self.tokens = tokens
        self.index = 0
        self.constants = constants

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.current.kind in ("op", "name") and self.current.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            self.fail(f"expected {text!r}")

    def expect_end(self) -> None:
        if self.current.kind != "end":
            self.fail("unexpected text after the end of the expression")

    def fail(self, message: str, fix: str = "") -> None:
        token = self.current
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"{message}, found {found}", token.position, token.text, fix)

    def condition(self) -> Node:
        return self.disjunction()

    def disjunction(self) -> Node:
        start = self.current.position
        operands = [self.conjunction()]
        while self.accept("or"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands), position=start)

    def conjunction(self) -> Node:
        start = self.current.position
        operands = [self.negation()]
        while self.accept("and"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands), position=start)

    def negation(self) -> Node:
        start = self.current.position
        if self.accept("not"):
            return Not(self.negation(), position=start)
        return self.comparison()

    def comparison(self) -> Node:
        start = self.current.position
        left = self.sum()
        token = self.current
        if token.kind == "op" and token.text in COMPARISONS:
            self.advance()
            return Compare(token.text, left, self.sum(), position=token.position)
        if self.accept("is"):
            negated = self.accept("not")
            if not self.accept("null"):
                self.fail("expected 'null' after 'is'", fix="write 'is null' or 'is not null'")
            return IsNull(left, negated, position=start)
        if token.kind == "name" and token.text in ("in", "not"):
            negated = self.accept("not")
            self.expect("in")
            return Member(left, self.list_operand(), negated, position=start)
        return left

    def sum(self) -> Node:
        node = self.product()
        while self.current.kind == "op" and self.current.text in "+-":
            token = self.advance()
            node = Arithmetic(token.text, node, self.product(), position=token.position)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in "*/":
            token = self.advance()
            node = Arithmetic(token.text, node, self.unary(), position=token.position)
        return node

    def unary(self) -> Node:
        token = self.current
        if self.accept("-"):
            operand = self.unary()
            if isinstance(operand, Literal) and isinstance(operand.value, float):
                return Literal(-operand.value, position=token.position)
            return Negate(operand, position=token.position)
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(float(token.text), position=token.position)
        if token.kind == "text":
            self.advance()
            return Literal(token.text[1:-1], position=token.position)
        if self.accept("("):
            node = self.condition()
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "[":
            return self.list_literal()
        if token.kind == "name":
            return self.name()
        self.fail("expected a field, a number, a quoted text, true, false or '('")
        raise AssertionError("unreachable")

    def name(self) -> Node:
        token = self.advance()
        if token.text in ("true", "false"):
            return Literal(token.text == "true", position=token.position)
        if token.text in KEYWORDS:
            self.index -= 1
            self.fail(
                f"{token.text!r} cannot start a value",
                fix="'null' is only tested with 'is null' / 'is not null'",
            )
        if self.accept("("):
            return self.call(token)
        if token.text in self.constants:
            return constant_node(self.constants[token.text], token)
        return FieldRef(token.text, position=token.position)

    def call(self, token: Token) -> Node:
        if token.text not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {token.text!r}",
                token.position,
                token.text,
                fix=f"use one of {', '.join(sorted(FUNCTIONS))}",
            )
        args = [self.sum()]
        while self.accept(","):
            args.append(self.sum())
        self.expect(")")
        if len(args) != FUNCTIONS[token.text]:
            raise ExpressionError(
                f"{token.text}() takes {FUNCTIONS[token.text]} argument(s), got {len(args)}",
                token.position,
                token.text,
            )
        return Call(token.text, tuple(args), position=token.position)

    def list_operand(self) -> ListLiteral:
        token = self.current
        if token.kind == "name" and isinstance(self.constants.get(token.text), list | tuple):
            self.advance()
            node = constant_node(self.constants[token.text], token)
            assert isinstance(node, ListLiteral)
            return node
        if not (token.kind == "op" and token.text == "["):
            self.fail('expected a list such as ["pricing", "delivery"] after \'in\'')
        return self.list_literal()

    def list_literal(self) -> ListLiteral:
        start = self.current.position
        self.expect("[")
        items = [self.list_item()]
        while self.accept(","):
            items.append(self.list_item())
        self.expect("]")
        return ListLiteral(tuple(items), position=start)

    def list_item(self) -> float | str:
        node = self.unary()
        if isinstance(node, Literal) and not isinstance(node.value, bool):
            return node.value
        raise ExpressionError(
            "a list holds only numbers or quoted texts", node.position, fix="remove the field"
        )


def constant_node(value: object, token: Token) -> Node:
    """A literal node for a parameter's value (number, text, true/false or a list)."""
    if isinstance(value, bool):
        return Literal(value, position=token.position)
    if isinstance(value, int | float):
        return Literal(float(value), position=token.position)
    if isinstance(value, str):
        return Literal(value, position=token.position)
    if isinstance(value, list | tuple) and value:
        items = tuple(v if isinstance(v, str) else float(v) for v in value)
        return ListLiteral(items, position=token.position)
    raise ExpressionError(
        f"parameter {token.text!r} has a value of unsupported type {type(value).__name__}",
        token.position,
        token.text,
        fix="give parameters a number, a text, true/false or a non-empty list",
    )


def field_names(node: Node) -> set[str]:
    """Every field an expression reads."""
    if isinstance(node, FieldRef):
        return {node.name}
    names: set[str] = set()
    for child in children(node):
        names |= field_names(child)
    return names


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, Negate | Not):
        return (node.operand,)
    if isinstance(node, Member | IsNull):
        return (node.operand,)
    if isinstance(node, Arithmetic | Compare):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, And | Or):
        return node.operands
    return ()
