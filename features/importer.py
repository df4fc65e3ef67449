"""Foreign extracts into canonical books, through a declarative column mapping.

A mapping (YAML) says, per canonical table, which source file feeds it and how each canonical
column is made from a source row. It is data, never code: a column spec is one of

- ``SourceColumn`` (a bare string): rename; the value is converted to the column's kind
  (dates with the mapping's ``date_format``, flags with ``true_values``/``false_values``);
- ``{column: X, date_format: ..., true_values: [...], false_values: [...]}``: the same with
  its own formats;
- ``{value: V}``: a constant (for example the currency of a one-currency ledger);
- ``{template: "D-{invoiceNumber}"}``: text built from source columns (derived keys);
- ``{days_after: {column: X, days: N}}``: the dating rule for an event that has no date of its
  own (a "Disputed: Yes" flag becomes a dispute opened N days after X). Dating rules are
  recorded in the book's ``book.json`` and in the import report, never applied silently.

A table may keep only the source rows whose flag column is true (``rows_where``), and may
collapse the source to one row per key (``distinct_on``, for a customers table derived from
an invoice extract). See ``tests/features/data/invoice_only_mapping.yaml`` for a complete
example.

Rows whose values cannot be converted are rejected with the source file, row, column, value
and reason; the counts reconcile: source rows = rows written + rows rejected (+ rows a filter
or ``distinct_on`` left out, counted separately).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from features.book import FALSE_WORDS, REJECTION_COLUMNS, TRUE_WORDS, latest_date, write_book
from features.schema import TABLES, TABLES_BY_NAME, Column

SPEC_KEYS = {
    "column",
    "date_format",
    "true_values",
    "false_values",
    "value",
    "template",
    "days_after",
}
TABLE_KEYS = {"source", "columns", "rows_where", "distinct_on"}
MAPPING_KEYS = {
    "version",
    "description",
    "date_format",
    "true_values",
    "false_values",
    "as_of",
    "tables",
    "delimiter",
    "encoding",
}
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


class MappingError(ValueError):
    """The mapping file is not a valid mapping; the message names the file and the entry."""


@dataclass(frozen=True)
class ColumnRule:
    """How one canonical column is made from a source row (exactly one way is set)."""

    target: str
    source: str | None = None
    value: Any = None
    template: str | None = None
    days_after: tuple[str, int] | None = None
    date_format: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()

    def source_columns(self) -> list[str]:
        if self.source is not None:
            return [self.source]
        if self.template is not None:
            return TEMPLATE_FIELD.findall(self.template)
        if self.days_after is not None:
            return [self.days_after[0]]
        return []

    def describe(self) -> str:
        if self.days_after is not None:
            column, days = self.days_after
            return f"{self.target} = {column} + {days} days"
        if self.template is not None:
            return f"{self.target} = {self.template!r}"
        if self.source is not None:
            return f"{self.target} <- {self.source}"
        return f"{self.target} = {self.value!r}"


@dataclass(frozen=True)
class TableRule:
    """How one canonical table is made from one source file."""

    table: str
    source: str
    columns: tuple[ColumnRule, ...]
    rows_where: ColumnRule | None = None
    distinct_on: str | None = None


@dataclass(frozen=True)
class Mapping:
    """A parsed, validated mapping file."""

    path: str
    digest: str
    tables: tuple[TableRule, ...]
    delimiter: str = ","
    encoding: str = "utf-8"
    as_of: str | None = None

    def dating_rules(self) -> list[str]:
        return [
            f"{t.table}.{c.describe()}"
            for t in self.tables
            for c in t.columns
            if c.days_after is not None
        ]


@dataclass
class ImportReport:
    """What an import read, wrote, left out by design and rejected.

    Attributes:
        source_rows: Rows read from each source file.
        written: Rows written per canonical table.
        filtered: Per table, source rows left out by ``rows_where`` or ``distinct_on``.
        rejections: One row per value that could not be converted (``table`` is the target
            table, ``file``/``row`` point into the source extract).
        dating_rules: The dating rules applied, in words.
    """

    source_rows: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rejections: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=REJECTION_COLUMNS)
    )
    dating_rules: list[str] = field(default_factory=list)

    def reconciles(self, rules: tuple[TableRule, ...]) -> bool:
        """Every table: rows of its source = written + rejected + filtered."""
        return all(
            self.source_rows[r.source]
            == self.written[r.table] + self.rejected[r.table] + self.filtered[r.table]
            for r in rules
        )


# -- the mapping file -------------------------------------------------------------------------


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file.

    Raises:
        MappingError: Unknown keys, tables or columns, a required canonical column without a
            rule (for a flag-only event: no dating rule), or a malformed rule. The message
            names the file and the entry, e.g. ``tables.disputes.columns.opened_date``.
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: cannot read the mapping ({error})") from error
    if not isinstance(document, dict):
        raise MappingError(f"{path}: a mapping is a YAML object with a 'tables' entry")
    return parse_mapping(document, str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def parse_mapping(document: dict, name: str = "<mapping>", digest: str = "") -> Mapping:
    """Validate a mapping given as a parsed YAML document; see ``load_mapping``."""
    _reject_unknown(document, MAPPING_KEYS, name, "")
    defaults = {
        "date_format": document.get("date_format"),
        "true_values": tuple(map(str, document.get("true_values", ()))),
        "false_values": tuple(map(str, document.get("false_values", ()))),
    }
    tables = document.get("tables")
    if not isinstance(tables, dict) or "invoices" not in tables:
        raise MappingError(f"{name}: 'tables' must map canonical tables, invoices at least")
    rules = tuple(_parse_table(table, spec, defaults, name) for table, spec in tables.items())
    order = [t.name for t in TABLES]
    rules = tuple(sorted(rules, key=lambda r: order.index(r.table)))
    as_of = document.get("as_of")
    return Mapping(
        path=name,
        digest=digest,
        tables=rules,
        delimiter=str(document.get("delimiter", ",")),
        encoding=str(document.get("encoding", "utf-8")),
        as_of=None if as_of is None else str(as_of),
    )


def _reject_unknown(entry: dict, allowed: set[str], name: str, where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        place = f"{where}." if where else ""
        raise MappingError(
            f"{name}: unknown entry {place}{unknown[0]} (allowed: {', '.join(sorted(allowed))})"
        )


def _parse_table(table: str, spec: Any, defaults: dict, name: str) -> TableRule:
    where = f"tables.{table}"
    if table not in TABLES_BY_NAME:
        known = ", ".join(TABLES_BY_NAME)
        raise MappingError(f"{name}: {where}: unknown table (canonical tables: {known})")
    if not isinstance(spec, dict) or "source" not in spec or "columns" not in spec:
        raise MappingError(f"{name}: {where}: needs 'source' (a file) and 'columns'")
    _reject_unknown(spec, TABLE_KEYS, name, where)
    declared = TABLES_BY_NAME[table]
    columns = spec["columns"]
    if not isinstance(columns, dict):
        raise MappingError(f"{name}: {where}.columns: must map canonical columns to rules")
    rules = []
    for target, rule in columns.items():
        if target not in declared.columns_by_name:
            raise MappingError(
                f"{name}: {where}.columns.{target}: not a column of {table} "
                f"(columns: {', '.join(declared.columns_by_name)})"
            )
        rules.append(_parse_column(target, rule, defaults, name, f"{where}.columns.{target}"))
    for required in declared.required_columns:
        if required not in columns:
            hint = (
                " (an event with no date of its own needs a dating rule, e.g. "
                "{days_after: {column: InvoiceDate, days: 14}})"
                if declared.columns_by_name[required].kind == "date"
                else ""
            )
            raise MappingError(f"{name}: {where}.columns.{required}: required, no rule{hint}")
    rows_where = None
    if "rows_where" in spec:
        rows_where = _parse_column(
            "rows_where", spec["rows_where"], defaults, name, f"{where}.rows_where"
        )
        if rows_where.source is None or not rows_where.true_values:
            raise MappingError(
                f"{name}: {where}.rows_where: needs a flag column and its true_values"
            )
    distinct_on = spec.get("distinct_on")
    if distinct_on is not None and distinct_on not in columns:
        raise MappingError(f"{name}: {where}.distinct_on: {distinct_on!r} is not mapped")
    return TableRule(table, str(spec["source"]), tuple(rules), rows_where, distinct_on)


def _parse_column(target: str, rule: Any, defaults: dict, name: str, where: str) -> ColumnRule:
    if isinstance(rule, str):
        rule = {"column": rule}
    if not isinstance(rule, dict):
        raise MappingError(f"{name}: {where}: a source column name or an object of {SPEC_KEYS}")
    _reject_unknown(rule, SPEC_KEYS, name, where)
    ways = [k for k in ("column", "value", "template", "days_after") if k in rule]
    if len(ways) != 1:
        raise MappingError(
            f"{name}: {where}: give exactly one of column, value, template, days_after"
        )
    days_after = None
    if "days_after" in rule:
        days_after = _parse_days_after(rule["days_after"], name, where)
    return ColumnRule(
        target=target,
        source=None if "column" not in rule else str(rule["column"]),
        value=rule.get("value"),
        template=rule.get("template"),
        days_after=days_after,
        date_format=rule.get("date_format", defaults["date_format"]),
        true_values=tuple(map(str, rule.get("true_values", defaults["true_values"]))),
        false_values=tuple(map(str, rule.get("false_values", defaults["false_values"]))),
    )


def _parse_days_after(spec: Any, name: str, where: str) -> tuple[str, int]:
    ok = isinstance(spec, dict) and set(spec) == {"column", "days"}
    if not ok or not isinstance(spec["days"], int) or spec["days"] < 0:
        raise MappingError(
            f"{name}: {where}.days_after: needs 'column' (a source date) and 'days' "
            "(a whole number of 0 or more)"
        )
    return str(spec["column"]), spec["days"]


# -- applying a mapping -----------------------------------------------------------------------


def import_extract(
    source: str | Path, mapping: Mapping
) -> tuple[dict[str, pd.DataFrame], ImportReport]:
    """Turn a foreign extract into canonical tables.

    Args:
        source: The extract: a folder holding the mapping's source files, or one file (then
            every table of the mapping must name that file's name as its source).
        mapping: A validated mapping.

    Returns:
        Canonical tables (values as text in canonical formats, ready for
        ``features.book.validate_tables``) and the import report.

    Raises:
        MappingError: A source file or a mapped source column is missing.
    """
    source = Path(source)
    report = ImportReport(dating_rules=mapping.dating_rules())
    frames = _read_sources(source, mapping, report)
    tables: dict[str, pd.DataFrame] = {}
    rejections = []
    for rule in mapping.tables:
        raw = frames[rule.source]
        _check_source_columns(rule, raw, source)
        table, problems, filtered = _apply_table(rule, raw)
        tables[rule.table] = table
        rejections.append(problems)
        report.written[rule.table] = len(table)
        report.rejected[rule.table] = problems["row"].nunique() if len(problems) else 0
        report.filtered[rule.table] = filtered
    non_empty = [r for r in rejections if len(r)]
    if non_empty:
        report.rejections = pd.concat(non_empty, ignore_index=True)
    return tables, report


def _read_sources(source: Path, mapping: Mapping, report: ImportReport) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in sorted({r.source for r in mapping.tables}):
        path = source if source.is_file() else source / name
        if source.is_file() and source.name != name:
            raise MappingError(
                f"{mapping.path}: a table's source is {name!r}, but {source} was given"
            )
        if not path.exists():
            raise MappingError(f"{path}: source file named in {mapping.path} does not exist")
        frames[name] = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            sep=mapping.delimiter,
            encoding=mapping.encoding,
        )
        frames[name].attrs["file"] = str(path)
        report.source_rows[name] = len(frames[name])
    return frames


def _check_source_columns(rule: TableRule, raw: pd.DataFrame, source: Path) -> None:
    needed = [c for column in rule.columns for c in column.source_columns()]
    if rule.rows_where is not None:
        needed += rule.rows_where.source_columns()
    for column in needed:
        if column not in raw.columns:
            raise MappingError(
                f"{raw.attrs['file']}: column {column!r} (mapped for {rule.table}) is missing "
                f"(found: {', '.join(raw.columns)})"
            )


def _apply_table(rule: TableRule, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    declared = TABLES_BY_NAME[rule.table]
    problems: list[pd.DataFrame] = []
    keep = np.ones(len(raw), dtype=bool)
    if rule.rows_where is not None:
        flag, bad = _convert_flag(raw[rule.rows_where.source], rule.rows_where)
        problems.append(
            _problems(raw, rule, rule.rows_where.source, bad, _flag_reason(rule.rows_where))
        )
        keep = flag.fillna(False).to_numpy(dtype=bool) & ~bad.to_numpy()
    out = pd.DataFrame(index=raw.index)
    for column_rule in rule.columns:
        values, bad, reason = _convert(
            column_rule, declared.columns_by_name[column_rule.target], raw
        )
        out[column_rule.target] = values
        if bad is not None:
            problems.append(
                _problems(raw, rule, column_rule.source_columns()[0], bad & keep, reason)
            )
    problem_frame = pd.concat(
        [p for p in problems if len(p)] or [_no_problems()], ignore_index=True
    )
    rejected_rows = problem_frame["row"].to_numpy(dtype=np.int64) - 1
    good = keep.copy()
    good[rejected_rows] = False
    filtered = int((~keep).sum()) - int(np.isin(rejected_rows, np.flatnonzero(~keep)).sum())
    table = out[good]
    if rule.distinct_on is not None:
        before = len(table)
        table = table.drop_duplicates(subset=rule.distinct_on, keep="first")
        filtered += before - len(table)
    return table.reset_index(drop=True), problem_frame, filtered


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECTION_COLUMNS)


def _problems(
    raw: pd.DataFrame, rule: TableRule, column: str, bad: pd.Series, reason: str
) -> pd.DataFrame:
    idx = np.flatnonzero(np.asarray(bad, dtype=bool))
    if not len(idx):
        return _no_problems()
    key_rule = next((c for c in rule.columns if c.target == TABLES_BY_NAME[rule.table].key), None)
    key_source = key_rule.source_columns()[0] if key_rule and key_rule.source_columns() else column
    return pd.DataFrame(
        {
            "table": rule.table,
            "file": raw.attrs["file"],
            "row": idx + 1,
            "key": raw[key_source].iloc[idx].to_numpy(),
            "column": column,
            "value": raw[column].iloc[idx].to_numpy(),
            "reason": reason,
        }
    )


def _convert(
    rule: ColumnRule, column: Column, raw: pd.DataFrame
) -> tuple[pd.Series, pd.Series | None, str]:
    """The canonical text of one column, the rows that failed and why."""
    if rule.value is not None:
        return pd.Series(str(rule.value), index=raw.index), None, ""
    if rule.template is not None:
        return _fill_template(rule.template, raw), None, ""
    if rule.days_after is not None:
        source, days = rule.days_after
        dates, bad = _convert_date(raw[source], rule.date_format)
        shifted = (dates + pd.Timedelta(days=days)).dt.strftime("%Y-%m-%d")
        return shifted, bad, _date_reason(rule)
    values = raw[rule.source]
    if column.kind == "date":
        dates, bad = _convert_date(values, rule.date_format)
        return dates.dt.strftime("%Y-%m-%d"), bad, _date_reason(rule)
    if column.kind == "bool" and (rule.true_values or rule.false_values):
        flag, bad = _convert_flag(values, rule)
        return flag.map({True: "true", False: "false"}), bad, _flag_reason(rule)
    return values.str.strip(), None, ""


def _convert_date(values: pd.Series, date_format: str | None) -> tuple[pd.Series, pd.Series]:
    text = values.str.strip()
    blank = text.eq("")
    parsed = pd.to_datetime(text.where(~blank), format=date_format or "ISO8601", errors="coerce")
    return parsed, parsed.isna() & ~blank


def _date_reason(rule: ColumnRule) -> str:
    return f"date does not match the mapping's format {rule.date_format or 'YYYY-MM-DD'}"


def _convert_flag(values: pd.Series, rule: ColumnRule) -> tuple[pd.Series, pd.Series]:
    text = values.str.strip()
    true_values = set(rule.true_values) or TRUE_WORDS
    false_values = set(rule.false_values) or FALSE_WORDS
    flag = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flag[text.isin(true_values)] = True
    flag[text.isin(false_values)] = False
    return flag, flag.isna() & text.ne("")


def _flag_reason(rule: ColumnRule) -> str:
    return (
        f"flag is not one of {', '.join(rule.true_values)} (true) or "
        f"{', '.join(rule.false_values)} (false)"
    )


def _fill_template(template: str, raw: pd.DataFrame) -> pd.Series:
    parts = re.split(r"(\{[^{}]+\})", template)
    out = pd.Series("", index=raw.index)
    for part in parts:
        match = TEMPLATE_FIELD.fullmatch(part)
        out = out + (raw[match.group(1)].str.strip() if match else part)
    return out


# -- writing ------------------------------------------------------------------------------------


def import_meta(mapping: Mapping, tables: dict[str, pd.DataFrame], report: ImportReport) -> dict:
    """The ``book.json`` of an imported book: its extraction date and how it was made."""
    as_of = mapping.as_of
    if as_of is None:
        typed = {
            name: frame.apply(
                lambda s: (
                    pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
                    if s.name.endswith("date")
                    else s
                )
            )
            for name, frame in tables.items()
        }
        latest = latest_date(typed)
        as_of = None if latest is None else latest.strftime("%Y-%m-%d")
    return {
        "as_of": as_of,
        "import": {
            "mapping": mapping.path,
            "mapping_sha256": mapping.digest,
            "imported_at": datetime.now().isoformat(timespec="seconds"),
            "dating_rules": report.dating_rules,
            "source_rows": report.source_rows,
            "written": report.written,
            "rejected": report.rejected,
            "filtered": report.filtered,
        },
    }


def write_imported_book(
    tables: dict[str, pd.DataFrame],
    meta: dict,
    out: str | Path,
    fmt: str = "parquet",
    overwrite: bool = False,
) -> Path:
    """Write an imported book all at once: into a temporary folder, then renamed into place."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: exists and is not empty (use --overwrite to replace it)")
    staging = out.with_name(f".{out.name}.importing")
    shutil.rmtree(staging, ignore_errors=True)
    write_book(tables, staging, fmt=fmt, meta=meta)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
