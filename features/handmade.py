"""Small books written by hand as rows of text, for examples, tests and notebooks.

Rows are given as dicts of text (as a CSV extract would hold them) and go through the same
validation as any loaded book, so a hand-written book obeys the data contract.
"""

from __future__ import annotations

import pandas as pd

from features.book import Book, validate_tables


def book_from_rows(**tables: list[dict]) -> Book:
    """A validated book from rows per table name.

    Raises:
        ValueError: A row breaks the data contract (the message lists the rejections).
    """
    frames = {name: pd.DataFrame(rows).astype(str) for name, rows in tables.items()}
    book, report = validate_tables(frames)
    if report.total_rejected:
        raise ValueError(f"hand-written book has bad rows: {report.rejections.to_dict('records')}")
    return book


def invoice_row(
    invoice_id: str,
    issue: str,
    due: str,
    paid: str = "",
    amount: float = 100.0,
    customer: str = "C1",
    order: str = "",
) -> dict:
    """One invoice as text; an empty ``paid`` is an open invoice."""
    return {
        "invoice_id": invoice_id,
        "customer_id": customer,
        "issue_date": issue,
        "due_date": due,
        "amount": str(amount),
        "currency": "EUR",
        "paid_date": paid,
        "order_id": order,
    }
