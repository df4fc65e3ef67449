"""Shared preparation for the offline family builders: the book as day and cent arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.timeline import NEVER, to_days

if TYPE_CHECKING:
    from features.offline import Context


def to_cents(amounts: pd.Series | np.ndarray) -> np.ndarray:
    """Money as whole cents (int64): sums are then exact in any order."""
    return np.round(np.asarray(amounts, dtype="float64") * 100).astype(np.int64)


@dataclass
class Ledger:
    """Per invoice of the book (in book order): customer code, dates as days, cents.

    ``paid`` is ``NEVER`` for an open invoice; ``residual`` is the part of the amount not
    covered by payments dated on or before the paid date (all of it without a payments
    table), settled on the paid date.
    """

    invoice_id: np.ndarray
    customer: np.ndarray
    issue: np.ndarray
    due: np.ndarray
    paid: np.ndarray
    cents: np.ndarray
    residual: np.ndarray


@dataclass
class Payments:
    """Payments that reduce an open balance: dated on or before their invoice's paid date."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    payment_id: np.ndarray


def ledger(context: Context) -> Ledger:
    """The book's invoices as arrays, memoised on the context."""
    return context.memo("ledger", lambda: _make_ledger(context))


def payments(context: Context) -> Payments:
    return context.memo("payments", lambda: _make_payments(context))


def _make_payments(context: Context) -> Payments:
    frame = context.table("payments")
    book = ledger_arrays(context)
    if frame is None:
        empty = np.zeros(0, dtype=np.int64)
        return Payments(empty, empty, empty, np.zeros(0, dtype=object))
    invoice = context.invoice_positions(frame["invoice_id"])
    day = to_days(frame["payment_date"])
    keep = day <= book["paid"][invoice]
    return Payments(
        invoice[keep],
        day[keep],
        to_cents(frame["amount"])[keep],
        frame["payment_id"].to_numpy()[keep],
    )


def ledger_arrays(context: Context) -> dict[str, np.ndarray]:
    def make() -> dict[str, np.ndarray]:
        invoices = context.invoices
        return {
            "invoice_id": invoices["invoice_id"].to_numpy(),
            "paid": to_days(invoices["paid_date"], NEVER),
        }

    return context.memo("ledger_arrays", make)


def _make_ledger(context: Context) -> Ledger:
    invoices = context.invoices
    arrays = ledger_arrays(context)
    cents = to_cents(invoices["amount"])
    paid_by_payments = np.zeros(len(invoices), dtype=np.int64)
    pays = payments(context)
    np.add.at(paid_by_payments, pays.invoice, pays.cents)
    return Ledger(
        invoice_id=arrays["invoice_id"],
        customer=context.invoice_customer,
        issue=to_days(invoices["issue_date"]),
        due=to_days(invoices["due_date"]),
        paid=arrays["paid"],
        cents=cents,
        residual=cents - paid_by_payments,
    )


def id_rank(ids: np.ndarray) -> np.ndarray:
    """Each id's rank in sorted order: the tie-break the online path uses between same-day
    events (it orders them by (day, id))."""
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def invoice_rank(context: Context) -> np.ndarray:
    """``id_rank`` of the book's invoice ids, memoised."""
    return context.memo("invoice_rank", lambda: id_rank(context.invoices["invoice_id"].to_numpy()))


def nan_where(condition: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` as float64 with NaN where ``condition`` holds."""
    return np.where(condition, np.nan, np.asarray(values, dtype="float64"))


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, np.nan, numerator / safe)
