"""Ledger events the online feature state consumes, as small typed records.

Every event has a ``date``; the online state answers "as of t" from the events dated before t.
``event_from_dict`` accepts the same events as plain dicts with a ``kind`` key (as a service
receives them), and ``events_from_book`` turns a whole book into events in time order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def day_number(value: object) -> int:
    """Days since 1970-01-01 of a date, datetime, Timestamp, numpy datetime or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date().toordinal() - EPOCH_ORDINAL
    if isinstance(value, dt.date):
        return value.toordinal() - EPOCH_ORDINAL
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[D]").astype(np.int64))
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]).toordinal() - EPOCH_ORDINAL
    raise TypeError(f"not a date: {value!r} (give a date, datetime or 'YYYY-MM-DD')")


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class InvoiceIssued:
    kind: ClassVar[str] = "invoice_issued"
    invoice_id: str
    customer_id: str
    date: dt.date
    due_date: dt.date
    amount: float
    order_id: str | None = None
    paperless: bool | None = None


@dataclass(frozen=True)
class PaymentReceived:
    """Cash received on an invoice (possibly partial)."""

    kind: ClassVar[str] = "payment"
    payment_id: str
    invoice_id: str
    date: dt.date
    amount: float


@dataclass(frozen=True)
class InvoicePaid:
    """The invoice is settled in full on ``date`` (its paid date)."""

    kind: ClassVar[str] = "invoice_paid"
    invoice_id: str
    date: dt.date


@dataclass(frozen=True)
class DisputeOpened:
    kind: ClassVar[str] = "dispute_opened"
    dispute_id: str
    invoice_id: str
    date: dt.date
    reason: str


@dataclass(frozen=True)
class DisputeResolved:
    kind: ClassVar[str] = "dispute_resolved"
    dispute_id: str
    date: dt.date


@dataclass(frozen=True)
class ActivityLogged:
    kind: ClassVar[str] = "activity"
    activity_id: str
    customer_id: str
    date: dt.date
    activity: str
    invoice_id: str | None = None
    order_id: str | None = None
    promised_date: dt.date | None = None


@dataclass(frozen=True)
class CustomerUpserted:
    """A customer's attributes (they hold for every t: the book keeps no history of them)."""

    kind: ClassVar[str] = "customer_upsert"
    customer_id: str
    segment: str | None = None
    strategic: bool | None = None
    credit_limit: float | None = None
    created_date: dt.date | None = None
    date: dt.date | None = None


Event = (
    InvoiceIssued
    | PaymentReceived
    | InvoicePaid
    | DisputeOpened
    | DisputeResolved
    | ActivityLogged
    | CustomerUpserted
)
EVENT_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        CustomerUpserted,
        InvoiceIssued,
        PaymentReceived,
        InvoicePaid,
        DisputeOpened,
        DisputeResolved,
        ActivityLogged,
    )
}
# Within one day events apply in this order (a payment before the settlement it completes).
KIND_ORDER = {kind: rank for rank, kind in enumerate(EVENT_TYPES)}


def event_from_dict(record: Mapping[str, Any]) -> Event:
    """Build a typed event from a dict with a ``kind`` key.

    Raises:
        ValueError: The kind is unknown or a field is missing or unexpected.
    """
    fields = dict(record)
    kind = fields.pop("kind", None)
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event kind {kind!r}: use one of {', '.join(EVENT_TYPES)}")
    try:
        return EVENT_TYPES[kind](**fields)
    except TypeError as error:
        raise ValueError(f"event {kind!r}: {error}") from error


def _clean(value: object) -> object:
    return None if _is_missing(value) else value


def _frame_events(book: object) -> list[tuple[str, pd.DataFrame, str]]:
    """(kind, frame, date column) for every event source in the book."""
    tables = book.tables  # type: ignore[attr-defined]
    invoices = tables["invoices"]
    sources = [("invoice_issued", invoices, "issue_date")]
    if "payments" in tables:
        sources.append(("payment", tables["payments"], "payment_date"))
    paid = invoices[invoices["paid_date"].notna()]
    sources.append(("invoice_paid", paid, "paid_date"))
    if "disputes" in tables:
        disputes = tables["disputes"]
        sources.append(("dispute_opened", disputes, "opened_date"))
        sources.append(
            ("dispute_resolved", disputes[disputes["resolved_date"].notna()], "resolved_date")
        )
    if "activities" in tables:
        sources.append(("activity", tables["activities"], "date"))
    return sources


def _record(kind: str, row: dict[str, Any], day: dt.date) -> Event:
    get = row.get
    if kind == "invoice_issued":
        return InvoiceIssued(
            row["invoice_id"],
            row["customer_id"],
            day,
            _date(row["due_date"]),
            float(row["amount"]),
            _clean(get("order_id")),
            _clean(get("paperless")),
        )
    if kind == "payment":
        return PaymentReceived(row["payment_id"], row["invoice_id"], day, float(row["amount"]))
    if kind == "invoice_paid":
        return InvoicePaid(row["invoice_id"], day)
    if kind == "dispute_opened":
        return DisputeOpened(row["dispute_id"], row["invoice_id"], day, row["reason"])
    if kind == "dispute_resolved":
        return DisputeResolved(row["dispute_id"], day)
    promised = get("promised_date")
    return ActivityLogged(
        row["activity_id"],
        row["customer_id"],
        day,
        row["kind"],
        _clean(get("invoice_id")),
        _clean(get("order_id")),
        None if _is_missing(promised) else _date(promised),
    )


def _date(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def customer_events(book: object) -> Iterator[CustomerUpserted]:
    """One upsert per customer of the book's customers table."""
    customers = book.tables.get("customers")  # type: ignore[attr-defined]
    if customers is None:
        return
    for row in customers.to_dict("records"):
        created = row.get("created_date")
        yield CustomerUpserted(
            row["customer_id"],
            _clean(row.get("segment")),
            _clean(row.get("strategic")),
            _clean(row.get("credit_limit")),
            None if _is_missing(created) else _date(created),
        )


def events_from_book(book: object) -> Iterator[Event]:
    """Every event of a book, sorted by (date, kind order, source row); customers first."""
    yield from customer_events(book)
    parts = []
    for kind, frame, column in _frame_events(book):
        parts.append(
            pd.DataFrame(
                {
                    "date": frame[column].to_numpy(),
                    "rank": KIND_ORDER[kind],
                    "row": np.arange(len(frame)),
                }
            ).assign(kind=kind)
        )
    order = pd.concat(parts, ignore_index=True).sort_values(["date", "rank", "row"], kind="stable")
    records = {kind: frame.to_dict("records") for kind, frame, _ in _frame_events(book)}
    for kind, row, date in zip(
        order["kind"].to_numpy(), order["row"].to_numpy(), order["date"].dt.date, strict=True
    ):
        yield _record(kind, records[kind][row], date)
