"""Decision tables and their rows: reading them from YAML nodes and checking them.

A table is an ordered list of rows; the first row whose condition holds decides the outputs the
table sets. Every row of a table sets the same outputs; the last row has no condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from serving.policy.coverage import covers, never_true
from serving.policy.expressions import TRUE, ExpressionError, Node
from serving.policy.typecheck import check_condition, check_number

if TYPE_CHECKING:
    from serving.policy.loader import Reader

OWNERS = ("finance", "revenue_owner", "joint", "none")
ACTIONS = (
    "monitor",
    "reminder",
    "collections_call",
    "resolve_root_cause",
    "escalate",
    "legal_review",
    "joint_review",
)
TIER_VALUES = ("P1", "P2", "P3", "P4", "auto")
OUTPUTS = ("owner", "action", "tier", "risk")
REQUIRED_OUTPUTS = ("owner", "action")
ROW_KEYS = ("id", "when", "explanation", *OUTPUTS)
ROW_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
CHOICES = {"owner": OWNERS, "action": ACTIONS, "tier": TIER_VALUES}


@dataclass(frozen=True)
class Row:
    """One row of a decision table.

    Attributes:
        table: Name of its table.
        id: Stable identifier, unique in the policy; its reason code is ``rule.<id>``.
        line: 1-based line of the row in the policy file.
        condition: Parsed condition; ``TRUE`` for the unconditional row.
        outputs: The labels it sets among ``owner``, ``action``, ``tier``.
        risk: The risk expression it sets, if its table sets ``risk``.
        explanation: Plain-language text shown as the rule's reason.
    """

    table: str
    id: str
    line: int
    condition: Node
    outputs: dict[str, str]
    risk: Node | None
    explanation: str

    @property
    def sets(self) -> frozenset[str]:
        return frozenset(self.outputs) | ({"risk"} if self.risk is not None else set())


@dataclass(frozen=True)
class DecisionTable:
    name: str
    line: int
    rows: tuple[Row, ...]

    @property
    def sets(self) -> frozenset[str]:
        return self.rows[0].sets if self.rows else frozenset()


def read_tables(reader: Reader, node: yaml.Node | None, constants: Mapping) -> list:
    """Every table of the ``tables`` list."""
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        reader.problem(node, "tables", "expected a non-empty list of tables", "add '- name: ...'")
        return []
    return [t for t in (_read_table(reader, n, constants) for n in node.value) if t is not None]


def _read_table(reader: Reader, node: yaml.Node, constants: Mapping) -> DecisionTable | None:
    entries = reader.mapping(node, "a table", ("name", "rows"))
    name = str(reader.value(entries["name"])) if "name" in entries else ""
    if not name:
        reader.problem(node, "name", "table without a name", "add 'name: routing'")
    rows_node = entries.get("rows")
    if not isinstance(rows_node, yaml.SequenceNode) or not rows_node.value:
        reader.problem(rows_node or node, "rows", f"table {name!r} has no rows", "add rows")
        return None
    rows = [_read_row(reader, name, n, constants) for n in rows_node.value]
    return DecisionTable(name, node.start_mark.line + 1, tuple(r for r in rows if r))


def _read_row(reader: Reader, table: str, node: yaml.Node, constants: Mapping) -> Row | None:
    entries = reader.mapping(node, f"a row of table {table!r}", ROW_KEYS)
    line = node.start_mark.line + 1
    row_id = str(reader.value(entries["id"])) if "id" in entries else ""
    if not ROW_ID.match(row_id):
        reader.problem(
            entries.get("id", node),
            "id",
            f"bad or missing row id {row_id!r}",
            "give each row an id of lowercase words joined by '.' or '_'",
        )
    explanation = str(reader.value(entries["explanation"])) if "explanation" in entries else ""
    if not explanation.strip():
        reader.problem(
            node,
            "explanation",
            f"row {row_id!r} has no explanation",
            "say in plain words why this row routes the invoice as it does",
        )
    condition = _read_condition(reader, entries.get("when"), constants)
    risk = _read_risk(reader, entries.get("risk"), constants)
    outputs = {key: _read_label(reader, key, entries[key]) for key in CHOICES if key in entries}
    if condition is None or ("risk" in entries and risk is None):
        return None
    return Row(table, row_id, line, condition, outputs, risk, explanation.strip())


def _read_condition(reader: Reader, node: yaml.Node | None, constants: Mapping) -> Node | None:
    if node is None:
        return TRUE
    condition = reader.expression(node, "when", constants)
    if condition is None:
        return None
    try:
        check_condition(condition, reader.catalogue)
    except ExpressionError as error:
        reader.expression_problem(node, "when", str(reader.value(node)), error)
        return None
    return condition


def _read_risk(reader: Reader, node: yaml.Node | None, constants: Mapping) -> Node | None:
    if node is None:
        return None
    risk = reader.expression(node, "risk", constants)
    if risk is None:
        return None
    try:
        check_number(risk, reader.catalogue)
    except ExpressionError as error:
        reader.expression_problem(node, "risk", str(reader.value(node)), error)
        return None
    return risk


def _read_label(reader: Reader, key: str, node: yaml.Node) -> str:
    value = str(reader.value(node))
    if value not in CHOICES[key]:
        reader.problem(
            node, key, f"{value!r} is not a valid {key}", f"use one of {', '.join(CHOICES[key])}"
        )
    return value


def check_tables(reader: Reader, tables: list[DecisionTable], root: yaml.Node) -> None:
    """Report inconsistent outputs, duplicate ids, missing catch-alls and unreachable rows."""
    seen_ids: dict[str, int] = {}
    for table in tables:
        for row in table.rows:
            if row.id in seen_ids:
                _row_problem(
                    reader,
                    row,
                    "id",
                    f"row id {row.id!r} is already used at line {seen_ids[row.id]}",
                    "give every row a unique id",
                )
            seen_ids.setdefault(row.id, row.line)
        _check_outputs(reader, table)
        _check_catch_all(reader, table)
        _check_reachable(reader, table)
    _check_deciders(reader, tables, root)


def _row_problem(reader: Reader, row: Row, key: str, message: str, fix: str) -> None:
    from serving.policy.errors import Problem

    reader.problems.append(Problem(reader.source, row.line, key, message, fix))


def _check_outputs(reader: Reader, table: DecisionTable) -> None:
    for row in table.rows[1:]:
        if row.sets != table.sets:
            missing = sorted(table.sets - row.sets) + sorted(row.sets - table.sets)
            _row_problem(
                reader,
                row,
                missing[0],
                f"row {row.id!r} sets {sorted(row.sets)} but "
                f"the first row of table {table.name!r} sets {sorted(table.sets)}",
                "every row of a table sets the same outputs",
            )


def _check_catch_all(reader: Reader, table: DecisionTable) -> None:
    if table.rows and table.rows[-1].condition != TRUE:
        _row_problem(
            reader,
            table.rows[-1],
            "when",
            f"the last row of table {table.name!r} has "
            "a condition, so some invoices would match no row (missing catch-all)",
            "add a last row without 'when' that says what happens otherwise",
        )


def _check_reachable(reader: Reader, table: DecisionTable) -> None:
    catalogue = reader.catalogue
    for index, row in enumerate(table.rows):
        if never_true(row.condition, catalogue):
            _row_problem(
                reader,
                row,
                "when",
                f"row {row.id!r} can never match: its condition contradicts itself",
                "correct the bounds of its comparisons",
            )
            continue
        for earlier in table.rows[:index]:
            if covers(earlier.condition, row.condition, catalogue):
                why = "has no condition" if earlier.condition == TRUE else "covers it"
                _row_problem(
                    reader,
                    row,
                    "when",
                    f"row {row.id!r} can never match: row "
                    f"{earlier.id!r} (line {earlier.line}) comes first and {why}",
                    f"move {row.id!r} above {earlier.id!r} or narrow {earlier.id!r}",
                )
                break


def _check_deciders(reader: Reader, tables: list[DecisionTable], root: yaml.Node) -> None:
    for output in OUTPUTS:
        deciders = [t.name for t in tables if output in t.sets]
        if output in REQUIRED_OUTPUTS and not deciders:
            reader.problem(
                root,
                output,
                f"no table sets {output!r}",
                f"give the rows of one table an {output!r}",
            )
        if len(deciders) > 1:
            reader.problem(
                root,
                output,
                f"tables {deciders} all set {output!r}",
                f"let exactly one table set {output!r}",
            )
