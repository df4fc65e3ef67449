"""Loading a policy file: YAML through the node API (for line numbers), then validation.

The file is parsed with ``yaml.compose`` so every problem can name its line; values are built
with the safe constructor only. Conditions are parsed by ``expressions`` (never evaluated as
code), typed against the field catalogue and checked for rows that can never match.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from serving.policy.catalogue import Catalogue, default_catalogue
from serving.policy.errors import PolicyError, Problem
from serving.policy.expressions import TRUE, ExpressionError, Node, parse
from serving.policy.rows import check_tables, read_tables
from serving.policy.typecheck import check_number

TIERS = ("P1", "P2", "P3", "P4")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# libyaml's composer when installed (several times faster), with the same nodes and marks.
COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TOP_KEYS = ("policy", "description", "parameters", "defaults", "tiers", "tables")


@dataclass(frozen=True)
class Parameter:
    """A named threshold of the policy; ``span`` is the value's character span in the file."""

    name: str
    value: object
    line: int
    span: tuple[int, int]


@dataclass(frozen=True)
class PolicySpec:
    """A validated policy file.

    Attributes:
        name: The policy's name.
        source: Where it was read from.
        text: The file's text, exactly as read.
        version: Content hash of ``text`` (``sha256:`` and 16 hex digits).
        parameters: Named thresholds, in file order.
        tier_thresholds: Minimum expected amount at risk for P1, P2, P3 (descending).
        default_risk: Risk expression for tables that do not set ``risk``.
        tables: The decision tables, in evaluation order.
    """

    name: str
    source: str
    text: str
    version: str
    parameters: dict[str, Parameter]
    tier_thresholds: tuple[float, float, float]
    default_risk: Node
    tables: tuple = field(default=())


class Reader:
    """Collects problems while turning YAML nodes into values."""

    def __init__(self, source: str, catalogue: Catalogue) -> None:
        self.source = source
        self.catalogue = catalogue
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def problem(self, node: yaml.Node, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.source, line_of(node), key, message, fix))

    def value(self, node: yaml.Node) -> object:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict:
        """Key -> value node of a mapping; reports non-mappings, duplicates, unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, what, "expected a mapping (key: value lines)", "indent keys")
            return {}
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in entries:
                self.problem(key_node, key, f"duplicate key in {what}", "keep one of them")
            elif allowed and key not in allowed:
                self.problem(key_node, key, f"unknown key in {what}", _choose(allowed))
            entries[key] = value_node
        return entries

    def expression(self, node: yaml.Node, key: str, constants: Mapping) -> Node | None:
        """Parse the expression in a scalar node; problems are located to line and column."""
        text = str(self.value(node)) if isinstance(node, yaml.ScalarNode) else None
        if text is None:
            self.problem(node, key, "expected an expression on one line", "quote the text")
            return None
        if text.strip().lower() == "true":
            return TRUE
        try:
            return parse(text, constants)
        except ExpressionError as error:
            self.expression_problem(node, key, text, error)
            return None

    def expression_problem(
        self, node: yaml.Node, key: str, text: str, error: ExpressionError
    ) -> None:
        line, column = locate(node, text, error.position)
        name = f"{key} ({error.field})" if error.field else key
        fix = error.fix or "see docs/policy.md for the expression language"
        self.problems.append(Problem(self.source, line, name, str(error), fix, column))


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def locate(node: yaml.Node, text: str, position: int) -> tuple[int, int | None]:
    """Line and column in the file of character ``position`` of a scalar's text."""
    if getattr(node, "style", None) in ("|", ">"):
        return line_of(node) + 1 + text[:position].count("\n"), None
    quoted = 1 if getattr(node, "style", None) in ('"', "'") else 0
    return line_of(node), node.start_mark.column + 1 + quoted + position


def _choose(allowed: tuple[str, ...]) -> str:
    return f"use one of {', '.join(allowed)}"


def content_version(text: str) -> str:
    """The policy version: a hash of the file's exact content."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_policy_file(path: str | Path, catalogue: Catalogue | None = None) -> PolicySpec:
    """Read and validate a policy file.

    Raises:
        PolicyError: listing every problem, each with file, line, field and the fix.
    """
    path = Path(path)
    return parse_policy(path.read_text(encoding="utf-8"), str(path), catalogue)


def parse_policy(
    text: str, source: str = "<string>", catalogue: Catalogue | None = None
) -> PolicySpec:
    """Validate a policy given as text; see ``load_policy_file``."""
    reader = Reader(source, catalogue if catalogue is not None else default_catalogue())
    try:
        root = yaml.compose(text, Loader=COMPOSER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PolicyError(
            [Problem(source, line, "yaml", str(error).splitlines()[0], "fix the YAML syntax")]
        ) from error
    if root is None:
        raise PolicyError([Problem(source, 1, "policy", "the file is empty", "see docs")])
    spec = _read_policy(reader, root, text)
    if reader.problems:
        raise PolicyError(reader.problems)
    return spec


def _read_policy(reader: Reader, root: yaml.Node, text: str) -> PolicySpec:
    top = reader.mapping(root, "the policy", TOP_KEYS)
    for key in ("policy", "tables", "tiers"):
        if key not in top:
            reader.problem(root, key, f"missing top-level key {key!r}", "see docs/policy.md")
    parameters = _read_parameters(reader, top.get("parameters"))
    constants = {name: p.value for name, p in parameters.items()}
    default_risk = _read_default_risk(reader, top.get("defaults"), constants)
    tables = read_tables(reader, top.get("tables"), constants)
    check_tables(reader, tables, root)
    return PolicySpec(
        name=str(reader.value(top["policy"])) if "policy" in top else "",
        source=reader.source,
        text=text,
        version=content_version(text),
        parameters=parameters,
        tier_thresholds=_read_tiers(reader, top.get("tiers")),
        default_risk=default_risk,
        tables=tuple(tables),
    )


def _read_parameters(reader: Reader, node: yaml.Node | None) -> dict[str, Parameter]:
    parameters: dict[str, Parameter] = {}
    if node is None:
        return parameters
    for name, value_node in reader.mapping(node, "parameters", ()).items():
        if not NAME.match(name) or name in reader.catalogue:
            why = "is a field name" if name in reader.catalogue else "is not a plain name"
            reader.problem(value_node, name, f"parameter name {why}", "rename the parameter")
            continue
        value = reader.value(value_node)
        if not _valid_parameter(value):
            reader.problem(
                value_node,
                name,
                "parameter value must be a number, text, true/false or a non-empty list",
                "give it a single value or a list such as [a, b]",
            )
            continue
        span = (value_node.start_mark.index, value_node.end_mark.index)
        parameters[name] = Parameter(name, value, line_of(value_node), span)
    return parameters


def _valid_parameter(value: object) -> bool:
    if isinstance(value, bool | int | float | str):
        return True
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in value)
    )


def _read_default_risk(reader: Reader, node: yaml.Node | None, constants: Mapping) -> Node:
    fallback = parse("max(p_late, p_dispute)")
    if node is None:
        return fallback
    entries = reader.mapping(node, "defaults", ("risk",))
    if "risk" not in entries:
        return fallback
    risk = reader.expression(entries["risk"], "risk", constants)
    if risk is None:
        return fallback
    try:
        check_number(risk, reader.catalogue)
    except ExpressionError as error:
        reader.expression_problem(
            entries["risk"], "risk", str(reader.value(entries["risk"])), error
        )
    return risk


def _read_tiers(reader: Reader, node: yaml.Node | None) -> tuple[float, float, float]:
    if node is None:
        return (0.0, 0.0, 0.0)
    entries = reader.mapping(node, "tiers", TIERS[:3])
    values: list[float] = []
    for tier in TIERS[:3]:
        value = reader.value(entries[tier]) if tier in entries else None
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            reader.problem(
                entries.get(tier, node),
                tier,
                "tier threshold must be a number >= 0",
                "give P1, P2 and P3 the minimum expected amount at risk",
            )
            value = 0.0
        values.append(float(value))
    if not values[0] >= values[1] >= values[2]:
        reader.problem(
            node, "tiers", "thresholds must not increase from P1 to P3", "order them P1 >= P2 >= P3"
        )
    return values[0], values[1], values[2]
