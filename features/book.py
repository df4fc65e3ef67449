"""Loading and writing books: every load is validated against ``features.schema``.

A bad row is never silently dropped. ``load_book`` returns the good rows and a ``LoadReport``
listing each rejected row with its table, file, row number, key, column and reason, and the
counts reconcile for every table: read = loaded + rejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import (
    CURRENCIES,
    ORACLE_TABLE,
    TABLES,
    TABLES_BY_NAME,
    Column,
    Table,
)

# A payment may exceed what is still owed by at most half a cent (rounding in source systems).
PAYMENT_TOLERANCE = 0.005
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
META_FILE = "book.json"
# Dates that look ahead (a due date, a promised date) say nothing about when a book was taken.
FORWARD_DATES = frozenset({"due_date", "promised_date"})
REJECTION_COLUMNS = ["table", "file", "row", "key", "column", "value", "reason"]


class BookError(ValueError):
    """A book cannot be loaded at all (missing folder, file or required column)."""


@dataclass(frozen=True)
class TableCount:
    read: int
    loaded: int
    rejected: int


@dataclass
class LoadReport:
    """What a load read, kept and rejected, table by table.

    Attributes:
        counts: Per table, rows read, loaded and rejected (rows, not reasons: a row with two
            problems is one rejected row with two entries in ``rejections``).
        rejections: One row per problem, columns ``table, file, row, key, column, value,
            reason``; ``row`` is the 1-based record number in the file (CSV line = row + 1).
        ignored_columns: Per table, columns in the file that the contract does not declare.
    """

    counts: dict[str, TableCount] = field(default_factory=dict)
    rejections: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=REJECTION_COLUMNS)
    )
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return all(c.read == c.loaded + c.rejected for c in self.counts.values())

    @property
    def total_rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())

    def reasons(self, table: str) -> list[str]:
        return self.rejections.loc[self.rejections["table"] == table, "reason"].tolist()


@dataclass
class Book:
    """A validated AR book: canonical tables keyed by name (only ``invoices`` is always there).

    Attributes:
        tables: The good rows of each loaded table.
        as_of: When the book was extracted: nothing after it is known. Read from ``book.json``
            (``{"as_of": "YYYY-MM-DD"}``) when the folder has one, else the latest date in
            any table.
        meta: The rest of ``book.json`` (for a simulated book, the generator's settings).
    """

    tables: dict[str, pd.DataFrame]
    as_of: pd.Timestamp | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of is None:
            self.as_of = latest_date(self.tables)

    def has(self, name: str) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def invoices(self) -> pd.DataFrame:
        return self.tables["invoices"]


def find_table_file(folder: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``folder`` (Parquet preferred over CSV), or None."""
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def read_raw_table(path: Path) -> pd.DataFrame:
    """Read one table file as it is; CSV cells stay text so that parsing is ours to report."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def load_book(folder: str | Path, tables: list[str] | None = None) -> tuple[Book, LoadReport]:
    """Load and validate the book in ``folder``.

    Args:
        folder: A folder holding ``<table>.parquet`` or ``<table>.csv`` files.
        tables: Load only these tables (default: every declared table that is present).

    Returns:
        The book of good rows and the report of what was rejected and why.

    Raises:
        BookError: The folder or the invoices file is missing, or a file lacks a required
            column (the message names the file and the column).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BookError(f"{folder}: no such book folder")
    raw: dict[str, tuple[Path, pd.DataFrame]] = {}
    for table in TABLES:
        if tables is not None and table.name not in tables:
            continue
        path = find_table_file(folder, table.name)
        if path is None:
            if table.required:
                raise BookError(f"{folder}: no invoices.parquet or invoices.csv (required)")
            continue
        raw[table.name] = (path, read_raw_table(path))
    book, report = validate_tables(
        {name: frame for name, (_, frame) in raw.items()},
        {name: str(path) for name, (path, _) in raw.items()},
    )
    meta = read_meta(folder)
    if "as_of" in meta:
        book.as_of = pd.Timestamp(meta["as_of"])
    book.meta = meta
    return book, report


def read_meta(folder: Path) -> dict:
    """The book's ``book.json`` metadata, or an empty dict when there is none."""
    path = folder / META_FILE
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
        if "as_of" in meta:
            pd.Timestamp(meta["as_of"])
    except (ValueError, TypeError) as error:
        raise BookError(
            f'{path}: not valid book metadata ({error}); expected {{"as_of": "YYYY-MM-DD"}}'
        ) from error
    return meta


def latest_date(tables: dict[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The latest date of any event in the tables (the default extraction date of a book)."""
    latest = [
        frame[column].max()
        for frame in tables.values()
        for column in frame.columns
        if column not in FORWARD_DATES
        and pd.api.types.is_datetime64_any_dtype(frame[column])
        and frame[column].notna().any()
    ]
    return max(latest) if latest else None


def validate_tables(
    frames: dict[str, pd.DataFrame], sources: dict[str, str] | None = None
) -> tuple[Book, LoadReport]:
    """Validate raw frames against the contract; see ``load_book`` for the result.

    Args:
        frames: Raw tables by name; values may be text (from CSV) or typed (from Parquet).
        sources: File name per table, used in messages (default: the table name).
    """
    sources = sources or {}
    report = LoadReport()
    problems: list[pd.DataFrame] = []
    loaded: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        if table.name not in frames:
            continue
        source = sources.get(table.name, table.name)
        raw = frames[table.name]
        _check_required_columns(table, raw, source)
        report.ignored_columns[table.name] = [
            c for c in raw.columns if c not in table.columns_by_name
        ]
        checker = _TableChecker(table, raw, source)
        checker.check_columns()
        checker.check_duplicate_keys()
        checker.check_date_order()
        checker.check_references(loaded)
        checker.check_against_invoices(loaded.get("invoices"))
        good = checker.good_rows()
        loaded[table.name] = good
        problems.append(checker.problems())
        report.counts[table.name] = TableCount(
            read=len(raw), loaded=len(good), rejected=len(raw) - len(good)
        )
    non_empty = [p for p in problems if len(p)]
    if non_empty:
        report.rejections = pd.concat(non_empty, ignore_index=True)
    return Book(loaded), report


def _check_required_columns(table: Table, raw: pd.DataFrame, source: str) -> None:
    missing = [c for c in table.required_columns if c not in raw.columns]
    if missing:
        raise BookError(
            f"{source}: required column {missing[0]!r} of table {table.name!r} is missing "
            f"(found: {', '.join(map(str, raw.columns)) or 'no columns'}); "
            "rename it in the file or map it with `arbiter import --mapping`"
        )


class _TableChecker:
    """Parses one raw table column by column and collects every problem, vectorised."""

    def __init__(self, table: Table, raw: pd.DataFrame, source: str) -> None:
        self.table = table
        self.raw = raw.reset_index(drop=True)
        self.source = source
        self.parsed = pd.DataFrame(index=self.raw.index)
        self._problem_masks: list[tuple[np.ndarray, str, pd.Series | str]] = []

    # -- collection ---------------------------------------------------------------------
    def flag(self, mask: pd.Series | np.ndarray, column: str, reason: pd.Series | str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self._problem_masks.append((mask, column, reason))

    @property
    def rejected_mask(self) -> np.ndarray:
        out = np.zeros(len(self.raw), dtype=bool)
        for mask, _, _ in self._problem_masks:
            out |= mask
        return out

    def problems(self) -> pd.DataFrame:
        parts = []
        key = self.table.key
        for mask, column, reason in self._problem_masks:
            idx = np.flatnonzero(mask)
            values = (
                self.raw[column].iloc[idx] if column in self.raw else pd.Series([None] * len(idx))
            )
            # A reason series holds one entry per flagged row, indexed by row position.
            reasons = reason.loc[idx].to_numpy() if isinstance(reason, pd.Series) else reason
            parts.append(
                pd.DataFrame(
                    {
                        "table": self.table.name,
                        "file": self.source,
                        "row": idx + 1,
                        "key": self.raw[key].iloc[idx].astype(str).to_numpy(),
                        "column": column,
                        "value": values.astype(str).to_numpy(),
                        "reason": reasons,
                    }
                )
            )
        if not parts:
            return pd.DataFrame(columns=REJECTION_COLUMNS)
        return pd.concat(parts, ignore_index=True).sort_values(["row", "column"], kind="stable")

    def good_rows(self) -> pd.DataFrame:
        keep = ~self.rejected_mask
        return self.parsed.loc[keep].reset_index(drop=True)

    # -- checks ---------------------------------------------------------------------------
    def check_columns(self) -> None:
        for column in self.table.columns:
            if column.name not in self.raw.columns:
                self.parsed[column.name] = _empty_column(column, len(self.raw))
                continue
            self.parsed[column.name] = self._parse(column, _strip_text(self.raw[column.name]))

    def _parse(self, column: Column, values: pd.Series) -> pd.Series:
        is_null = values.isna()
        if not column.nullable:
            self.flag(is_null, column.name, "missing value")
        parser = _PARSERS[column.kind]
        parsed, invalid, reason = parser(values, column)
        self.flag(invalid & ~is_null, column.name, reason)
        return parsed

    def check_duplicate_keys(self) -> None:
        key = self.parsed[self.table.key]
        dup = key.duplicated(keep="first") & key.notna()
        if dup.any():
            first_row = pd.Series(np.arange(1, len(key) + 1), index=key.index).groupby(key).min()
            reason = "duplicate key, first seen at row " + key[dup].map(first_row).astype(str)
            self.flag(dup, self.table.key, reason)

    def check_date_order(self) -> None:
        for later, earlier in self.table.date_order:
            bad = (self.parsed[later] < self.parsed[earlier]).fillna(False)
            earlier_text = self.parsed.loc[bad, earlier].dt.strftime("%Y-%m-%d")
            self.flag(bad, later, f"{later} is before {earlier} (" + earlier_text + ")")

    def check_references(self, loaded: dict[str, pd.DataFrame]) -> None:
        for ref in self.table.references:
            parent = loaded.get(ref.table)
            if parent is None:
                continue
            parent_key = TABLES_BY_NAME[ref.table].key
            values = self.parsed[ref.column]
            unknown = values.notna() & ~values.isin(parent[parent_key])
            self.flag(
                unknown,
                ref.column,
                f"unknown {ref.column}: not among the loaded {ref.table} (absent or rejected)",
            )

    def check_against_invoices(self, invoices: pd.DataFrame | None) -> None:
        if invoices is None or self.table.name not in ("payments", "disputes"):
            return
        indexed = invoices.set_index("invoice_id")
        issue = self.parsed["invoice_id"].map(indexed["issue_date"])
        date_column = "payment_date" if self.table.name == "payments" else "opened_date"
        before = (self.parsed[date_column] < issue).fillna(False)
        self.flag(before, date_column, f"{date_column} is before the invoice's issue_date")
        if self.table.name == "payments":
            self._check_overpayment(indexed["amount"])

    def _check_overpayment(self, invoice_amount: pd.Series) -> None:
        """Reject each payment that takes the total paid on its invoice past the amount.

        Payments are applied in date order (file order within a day); only invoices whose
        total exceeds the amount need the running sum.
        """
        ok = ~self.rejected_mask
        invoice_ids = self.parsed["invoice_id"]
        totals = self.parsed.loc[ok].groupby("invoice_id", sort=False)["amount"].sum()
        limits = invoice_amount.reindex(totals.index)
        over_invoices = totals.index[totals > limits + PAYMENT_TOLERANCE]
        if not len(over_invoices):
            return
        frame = self.parsed.loc[ok & invoice_ids.isin(over_invoices).to_numpy()]
        frame = frame.sort_values(["invoice_id", "payment_date"], kind="stable")
        cumulative = frame.groupby("invoice_id", sort=False)["amount"].cumsum()
        limit = frame["invoice_id"].map(invoice_amount)
        over = cumulative > limit + PAYMENT_TOLERANCE
        reason = (
            "payments total "
            + cumulative[over].round(2).astype(str)
            + " exceeds the invoice amount "
            + limit[over].round(2).astype(str)
        )
        mask = np.zeros(len(self.parsed), dtype=bool)
        mask[over.index[over].to_numpy()] = True
        self.flag(mask, "amount", reason)


def _strip_text(values: pd.Series) -> pd.Series:
    """Text cells without surrounding blanks; empty cells become None. Typed columns pass."""
    if values.dtype != object:
        return values
    text = values.str.strip()
    text[text.isna() | text.eq("")] = None
    return text


def _empty_column(column: Column, n: int) -> pd.Series:
    dtype = {"date": "datetime64[ns]", "money": "float64", "int": "Int64", "bool": "boolean"}
    return pd.Series([None] * n, dtype=dtype.get(column.kind, object))


ParseResult = tuple[pd.Series, pd.Series, "pd.Series | str"]


def _parse_text(values: pd.Series, column: Column) -> ParseResult:
    if values.dtype != object:
        values = (
            values.astype(object)
            .where(values.notna(), None)
            .map(lambda v: v if v is None else str(v))
        )
    return values, pd.Series(False, index=values.index), ""


def _parse_date(values: pd.Series, column: Column) -> ParseResult:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if values.dt.tz is not None else values
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    parsed = parsed.dt.normalize().astype("datetime64[ns]")
    return parsed, parsed.isna(), "unparseable date (expected YYYY-MM-DD)"


def _parse_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _parse_money(values: pd.Series, column: Column) -> ParseResult:
    parsed = _parse_number(values)
    invalid = parsed.isna() | ~np.isfinite(parsed.fillna(0)) | (parsed <= 0)
    reason = pd.Series("not a number", index=values.index)
    reason[parsed.notna() & (parsed <= 0)] = "amount must be greater than zero"
    if column.nullable:
        # Optional money (credit_limit) may be zero, never negative.
        invalid = parsed.isna() | (parsed < 0)
        reason[parsed.notna() & (parsed < 0)] = "amount must not be negative"
    return parsed, invalid, reason


def _parse_int(values: pd.Series, column: Column) -> ParseResult:
    parsed = _parse_number(values)
    invalid = parsed.isna() | (parsed != parsed.round()) | (parsed < 0)
    out = parsed.where(~invalid).round().astype("Int64")
    return out, invalid, "expected a whole number of 0 or more"


def _parse_bool(values: pd.Series, column: Column) -> ParseResult:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), pd.Series(False, index=values.index), ""
    words = values.astype(str).str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[words.isin(TRUE_WORDS)] = True
    out[words.isin(FALSE_WORDS)] = False
    return out, out.isna(), "expected true/false"


def _parse_category(values: pd.Series, column: Column) -> ParseResult:
    text, _, _ = _parse_text(values, column)
    invalid = ~text.isin(column.choices)
    return text, invalid, f"not one of {', '.join(column.choices)}"


def _parse_currency(values: pd.Series, column: Column) -> ParseResult:
    text, _, _ = _parse_text(values, column)
    text = text.str.upper()
    return text, ~text.isin(CURRENCIES), "unknown ISO 4217 currency code"


_PARSERS = {
    "id": _parse_text,
    "str": _parse_text,
    "date": _parse_date,
    "money": _parse_money,
    "int": _parse_int,
    "bool": _parse_bool,
    "category": _parse_category,
    "currency": _parse_currency,
}


def write_book(
    tables: dict[str, pd.DataFrame],
    folder: str | Path,
    fmt: str = "parquet",
    meta: dict | None = None,
) -> Path:
    """Write canonical tables (and an ``oracle`` table, if given) to ``folder``.

    Args:
        tables: Frames by table name.
        folder: Destination folder, created if needed.
        fmt: ``parquet`` (default) or ``csv``.
        meta: Written as ``book.json`` (for example ``{"as_of": "2025-12-31"}``).

    Files are written to a temporary name first and renamed, so an interrupted write never
    leaves a half-written table behind.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown book format {fmt!r}: use parquet or csv")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name not in TABLES_BY_NAME and name != ORACLE_TABLE:
            raise ValueError(f"unknown table {name!r}: not part of the data contract")
        final = folder / f"{name}.{fmt}"
        partial = folder / f".{name}.{fmt}.partial"
        if fmt == "parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False, date_format="%Y-%m-%d")
        partial.replace(final)
    if meta is not None:
        partial = folder / f".{META_FILE}.partial"
        partial.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        partial.replace(folder / META_FILE)
    return folder


def read_oracle(folder: str | Path) -> pd.DataFrame | None:
    """The simulator's ground truth beside a book, or None. Never an input to features."""
    path = find_table_file(Path(folder), ORACLE_TABLE)
    return None if path is None else read_raw_table(path)
