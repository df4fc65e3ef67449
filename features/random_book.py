"""A random AR book with every table, for property tests and benchmarks of the features.

Unlike the simulator (``features.simulator``), which models customer behaviour, this book
is built to stress the point-in-time logic: many same-day events, partial payments, several
disputes per invoice, order-linked problems, promises kept and broken. Vectorised with NumPy,
so a million invoices take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.book import Book, validate_tables
from features.schema import ACTIVITY_KINDS, DISPUTE_REASONS, SEGMENTS

START = np.datetime64("2023-01-01", "D")


def _dates(days: np.ndarray) -> np.ndarray:
    return (START + days.astype("timedelta64[D]")).astype("datetime64[ns]")


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(n).astype(str)).astype(object)


def random_customers(rng: np.random.Generator, customers: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": _ids("C", customers),
            "segment": rng.choice(np.array(SEGMENTS, dtype=object), customers),
            "strategic": pd.array(rng.random(customers) < 0.2, dtype="boolean"),
            "credit_limit": np.round(rng.uniform(1_000, 100_000, customers), 2),
            "created_date": _dates(rng.integers(-400, 100, customers)),
        }
    )


def random_invoices(
    rng: np.random.Generator, customers: int, invoices: int, span: int
) -> pd.DataFrame:
    customer = rng.integers(0, customers, invoices)
    issue = rng.integers(0, span, invoices)
    terms = rng.choice(np.array([0, 15, 30, 45, 60]), invoices)
    habit = rng.normal(0, 12, customers)[customer]
    paid = issue + np.maximum(terms + np.round(habit + rng.normal(0, 10, invoices)), 0)
    paid = np.where(rng.random(invoices) < 0.08, -1, paid).astype(np.int64)
    paperless = pd.array(rng.random(invoices) < 0.6, dtype="boolean")
    paperless[rng.random(invoices) < 0.1] = pd.NA
    return pd.DataFrame(
        {
            "invoice_id": _ids("I", invoices),
            "customer_id": _ids("C", customers)[customer],
            "issue_date": _dates(issue),
            "due_date": _dates(issue + terms),
            "amount": np.round(rng.lognormal(7, 1.2, invoices), 2) + 0.01,
            "currency": "EUR",
            "order_id": _ids("O", invoices),
            "paperless": paperless,
            "paid_date": pd.Series(_dates(np.maximum(paid, 0))).where(paid >= 0),
        }
    )


def random_payments(rng: np.random.Generator, invoices: pd.DataFrame, span: int) -> pd.DataFrame:
    """Partial payments on some invoices, the last one (when paid) on the paid date."""
    issue = _days(invoices["issue_date"])
    paid = _days(invoices["paid_date"], -1)
    n = len(invoices)
    first_share = np.round(rng.uniform(0.1, 0.6, n), 2)
    partial = rng.random(n) < 0.3
    end = np.where(paid >= 0, paid, span + 30)
    first_day = issue + np.floor((end - issue) * rng.random(n)).astype(np.int64)
    amount = invoices["amount"].to_numpy()
    first_amount = np.round(amount * first_share, 2)
    rows_first = np.flatnonzero(partial & (first_amount > 0))
    rows_final = np.flatnonzero(paid >= 0)
    final_amount = amount - np.where(partial & (first_amount > 0), first_amount, 0)
    rows_final = rows_final[final_amount[rows_final] > 0.004]
    frame = pd.DataFrame(
        {
            "invoice_id": np.concatenate(
                [
                    invoices["invoice_id"].to_numpy()[rows_first],
                    invoices["invoice_id"].to_numpy()[rows_final],
                ]
            ),
            "payment_date": _dates(np.concatenate([first_day[rows_first], paid[rows_final]])),
            "amount": np.round(
                np.concatenate([first_amount[rows_first], final_amount[rows_final]]), 2
            ),
        }
    )
    frame.insert(0, "payment_id", _ids("P", len(frame)))
    return frame


def random_disputes(rng: np.random.Generator, invoices: pd.DataFrame) -> pd.DataFrame:
    n = len(invoices)
    rows = rng.choice(n, int(n * 0.12))
    opened = _days(invoices["issue_date"])[rows] + rng.integers(0, 40, len(rows))
    resolved = opened + rng.integers(0, 60, len(rows))
    resolved_date = pd.Series(_dates(resolved)).where(rng.random(len(rows)) < 0.8)
    return pd.DataFrame(
        {
            "dispute_id": _ids("D", len(rows)),
            "invoice_id": invoices["invoice_id"].to_numpy()[rows],
            "opened_date": _dates(opened),
            "reason": rng.choice(np.array(DISPUTE_REASONS, dtype=object), len(rows)),
            "amount": np.round(invoices["amount"].to_numpy()[rows] * 0.5, 2) + 0.01,
            "resolved_date": resolved_date,
        }
    )


def random_activities(
    rng: np.random.Generator, invoices: pd.DataFrame, customers: int, span: int
) -> pd.DataFrame:
    n = int(len(invoices) * 0.8)
    kinds = np.array(ACTIVITY_KINDS, dtype=object)
    kind = rng.choice(kinds, n)
    rows = rng.integers(0, len(invoices), n)
    day = _days(invoices["issue_date"])[rows] + rng.integers(0, 90, n)
    tied = np.isin(kind, ["delivery_incomplete", "quality_issue", "promise_to_pay"])
    link = rng.random(n)
    invoice_id = np.where(tied & (link < 0.5), invoices["invoice_id"].to_numpy()[rows], None)
    order_id = np.where(tied & (link > 0.3), invoices["order_id"].to_numpy()[rows], None)
    promised = pd.Series(_dates(day + rng.integers(0, 40, n))).where(kind == "promise_to_pay")
    return pd.DataFrame(
        {
            "activity_id": _ids("A", n),
            "customer_id": invoices["customer_id"].to_numpy()[rows],
            "invoice_id": invoice_id,
            "order_id": order_id,
            "date": _dates(day),
            "kind": kind,
            "detail": "x",
            "promised_date": promised,
        }
    )


def _days(dates: pd.Series, missing: int = 0) -> np.ndarray:
    values = dates.to_numpy(dtype="datetime64[ns]")
    days = (values.astype("datetime64[D]") - START).astype(np.int64)
    return np.where(np.isnat(values), missing, days)


def random_tables(
    customers: int = 50, invoices: int = 1_000, span: int = 240, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Every table of a random book (typed frames, valid under the data contract)."""
    rng = np.random.default_rng(seed)
    invoice_frame = random_invoices(rng, customers, invoices, span)
    return {
        "customers": random_customers(rng, customers),
        "invoices": invoice_frame,
        "payments": random_payments(rng, invoice_frame, span),
        "disputes": random_disputes(rng, invoice_frame),
        "activities": random_activities(rng, invoice_frame, customers, span),
    }


def random_book(customers: int = 50, invoices: int = 1_000, span: int = 240, seed: int = 0) -> Book:
    """A validated random book; see ``random_tables``."""
    book, report = validate_tables(random_tables(customers, invoices, span, seed))
    if report.total_rejected:
        raise ValueError(
            f"random book rejected rows: {report.rejections.head().to_dict('records')}"
        )
    return book
