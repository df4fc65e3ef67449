"""A whole book as state-update calls in time order, for ``OnlineFeatures.replay``.

The order is the one ``features.online_events.events_from_book`` gives (date, then kind
order, then row), but the calls carry day numbers and plain values straight from the
columns, so that replaying a million-invoice book does not build a record per event.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from features.online_events import KIND_ORDER
from features.timeline import NEVER, to_days


def _values(frame: pd.DataFrame, column: str) -> list:
    """A column as Python values, missing ones as None (absent column: all None)."""
    if column not in frame.columns:
        return [None] * len(frame)
    series = frame[column]
    if pd.api.types.is_datetime64_any_dtype(series):
        days = to_days(series)
        return [None if d == NEVER else d for d in days.tolist()]
    values = series.astype(object).where(series.notna(), None)
    return values.tolist()


def _sources(book: object) -> list[tuple[str, str, np.ndarray, list[tuple]]]:
    """(kind, handler, day per row, arguments per row) for each event source of the book."""
    tables = book.tables  # type: ignore[attr-defined]
    invoices = tables["invoices"]
    sources = [
        (
            "invoice_issued",
            "issue_invoice",
            to_days(invoices["issue_date"]),
            list(
                zip(
                    *(
                        _values(invoices, c)
                        for c in (
                            "invoice_id",
                            "customer_id",
                            "issue_date",
                            "due_date",
                            "amount",
                            "order_id",
                            "paperless",
                        )
                    ),
                    strict=True,
                )
            ),
        )
    ]
    if "payments" in tables:
        pays = tables["payments"]
        args = zip(
            *(_values(pays, c) for c in ("invoice_id", "payment_date", "amount")), strict=True
        )
        sources.append(("payment", "receive_payment", to_days(pays["payment_date"]), list(args)))
    paid = invoices[invoices["paid_date"].notna()]
    args = zip(*(_values(paid, c) for c in ("invoice_id", "paid_date")), strict=True)
    sources.append(("invoice_paid", "settle_invoice", to_days(paid["paid_date"]), list(args)))
    if "disputes" in tables:
        disputes = tables["disputes"]
        columns = ("dispute_id", "invoice_id", "opened_date", "reason")
        args = zip(*(_values(disputes, c) for c in columns), strict=True)
        sources.append(
            ("dispute_opened", "open_dispute", to_days(disputes["opened_date"]), list(args))
        )
        done = disputes[disputes["resolved_date"].notna()]
        args = zip(*(_values(done, c) for c in ("dispute_id", "resolved_date")), strict=True)
        sources.append(
            ("dispute_resolved", "resolve_dispute", to_days(done["resolved_date"]), list(args))
        )
    if "activities" in tables:
        acts = tables["activities"]
        columns = ("customer_id", "date", "kind", "invoice_id", "order_id", "promised_date")
        args = zip(*(_values(acts, c) for c in columns), strict=True)
        sources.append(("activity", "log_activity", to_days(acts["date"]), list(args)))
    return sources


def _customer_calls(book: object) -> list[tuple]:
    customers = book.tables.get("customers")  # type: ignore[attr-defined]
    if customers is None:
        return []
    columns = ("customer_id", "segment", "strategic", "credit_limit", "created_date")
    return list(zip(*(_values(customers, c) for c in columns), strict=True))


def book_event_calls(book: object, until: int = NEVER) -> Iterator[tuple[str, tuple]]:
    """(handler name, arguments) for every event dated before ``until``, in time order.

    Customer upserts come first (customer attributes hold for every t).
    """
    for args in _customer_calls(book):
        yield "upsert_customer", args
    sources = _sources(book)
    day = np.concatenate([s[2] for s in sources])
    rank = np.concatenate([np.full(len(s[2]), KIND_ORDER[s[0]]) for s in sources])
    source = np.concatenate([np.full(len(s[2]), i) for i, s in enumerate(sources)])
    row = np.concatenate([np.arange(len(s[2])) for s in sources])
    order = np.lexsort((row, rank, day))
    order = order[day[order] < until]
    handlers = [s[1] for s in sources]
    arguments = [s[3] for s in sources]
    for i, r in zip(source[order].tolist(), row[order].tolist(), strict=True):
        yield handlers[i], arguments[i][r]
