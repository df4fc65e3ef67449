"""Bulk load of a validated book into the store, through the same idempotent ingest as the API.

Rows the store refuses (an id already stored with other content, a payment beyond what the
stored invoice allows...) are reported with their table, key, field and reason; none is
dropped silently. A book without a customers table gets one bare customer (id only) per
customer id its invoices name, and the result says how many.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from features.book import Book
from features.schema import TABLES
from serving.api.schemas.book import ActivityIn, CustomerIn, DisputeIn, InvoiceIn, PaymentIn
from serving.store.book import ENTITIES, ingest_many
from serving.store.db import Store
from serving.store.events import BOOK_LOADED, publish_marker

SCHEMAS: dict[str, type[BaseModel]] = {
    "customers": CustomerIn,
    "invoices": InvoiceIn,
    "payments": PaymentIn,
    "disputes": DisputeIn,
    "activities": ActivityIn,
}
CHUNK_ROWS = 2000


@dataclass
class StoreLoadResult:
    """What a load did, table by table, and every row the store refused."""

    counts: dict[str, Counter] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    bare_customers: int = 0

    def print(self, console: Console) -> None:
        for table, counts in self.counts.items():
            summary = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
            console.print(f"{table}: {summary}")
        if self.bare_customers:
            console.print(f"customers: {self.bare_customers:,} created bare (book has no table)")
        for rejection in self.rejections[:20]:
            console.print(
                f"[yellow]refused[/yellow] {rejection['table']} {rejection['key']}: "
                f"{rejection['column']}: {rejection['reason']}"
            )
        if len(self.rejections) > 20:
            console.print(f"... and {len(self.rejections) - 20:,} more refused rows")

    def write_rejections(self, book_rejections: pd.DataFrame, path: Path) -> None:
        """The loader's and the store's rejections together, as one CSV."""
        store = pd.DataFrame(self.rejections, columns=["table", "key", "column", "reason"])
        pd.concat([book_rejections, store], ignore_index=True).to_csv(path, index=False)


def plain(value: Any, column: str) -> Any:
    """A frame cell as the ingest schema takes it (money as exact 2-decimal text)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if column in ("amount", "credit_limit"):
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame, schema: type[BaseModel]) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of the schema's fields."""
    columns = [c for c in schema.model_fields if c in frame.columns]
    rows = frame[columns].astype(object).to_dict("records")
    return [{c: plain(v, c) for c, v in row.items()} for row in rows]


def load_rows(
    session: Session, table: str, rows: list[dict[str, Any]], result: StoreLoadResult
) -> None:
    """Ingest ``rows`` of ``table``; the caller commits."""
    schema, key = SCHEMAS[table], ENTITIES[table].key
    counts = result.counts.setdefault(table, Counter())
    valid = []
    for row in rows:
        try:
            valid.append(schema.model_validate(row).model_dump())
        except ValidationError as error:
            counts["rejected"] += 1
            for problem in error.errors(include_url=False):
                column = ".".join(str(p) for p in problem["loc"])
                result.rejections.append(
                    {
                        "table": table,
                        "key": row.get(key),
                        "column": column,
                        "reason": problem["msg"],
                    }
                )
    for outcome in ingest_many(session, table, valid, log_events=False):
        counts[outcome.result] += 1
        if outcome.error is not None:
            result.rejections.append(
                {
                    "table": table,
                    "key": outcome.key,
                    "column": outcome.error.field,
                    "reason": outcome.error.message,
                }
            )


def bare_customers(book: Book) -> list[dict[str, Any]]:
    """One id-only customer per customer id of a book that has no customers table."""
    if book.has("customers"):
        return []
    ids = pd.concat(
        [book[t]["customer_id"] for t in ("invoices", "activities") if book.has(t)]
    ).dropna()
    return [{"customer_id": str(c)} for c in ids.unique()]


def load_into_store(store: Store, book: Book, progress: bool = False) -> StoreLoadResult:
    """Load every table of ``book`` into ``store``, committing every ``CHUNK_ROWS`` rows.

    Args:
        store: The target store (migrated).
        book: A book from ``features.book.load_book`` (its rows already validated).
        progress: Show a rich progress bar per table.
    """
    result = StoreLoadResult()
    plan = [(t.name, records(book[t.name], SCHEMAS[t.name])) for t in TABLES if book.has(t.name)]
    extra = bare_customers(book)
    if extra:
        plan.insert(0, ("customers", extra))
        result.bare_customers = len(extra)
    with Progress(disable=not progress, transient=False) as bar:
        for table, rows in plan:
            task = bar.add_task(f"loading {table}", total=len(rows))
            for start in range(0, len(rows), CHUNK_ROWS):
                chunk = rows[start : start + CHUNK_ROWS]
                with store.sessions() as session:
                    load_rows(session, table, chunk, result)
                    session.commit()
                bar.advance(task, len(chunk))
    with store.sessions() as session:
        publish_marker(session, BOOK_LOADED)  # running services rebuild their state
        session.commit()
    return result
