"""Headline figures of a book: share paid late, share disputed, DSO, write-offs.

Definitions, shared by the CLI, the tests and the README:

- **late**: paid after the due date (grace 0), or still unpaid at as_of with the due date
  passed. The share is over invoices due before as_of (their outcome is known).
- **disputed**: a dispute was opened on the invoice. The share is over invoices issued more
  than the dispute window before as_of (their outcome is known).
- **DSO** (days sales outstanding): receivables open at as_of, divided by the amount
  invoiced in the 90 days before as_of, times 90. Open receivables are each unpaid invoice's
  amount less its payments before as_of; invoices of insolvent customers are written off
  and left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DSO_WINDOW_DAYS = 90


def late_outcomes(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Late (True/False) for each invoice whose outcome is known at as_of; index as given."""
    known = invoices["due_date"] < as_of
    paid = invoices["paid_date"]
    late = paid.isna() | (paid > invoices["due_date"])
    return late[known].astype(bool)


def dispute_outcomes(
    invoices: pd.DataFrame, disputes: pd.DataFrame, as_of: pd.Timestamp, window_days: int
) -> pd.Series:
    """Disputed (True/False) for each invoice older than the dispute window at as_of."""
    known = invoices["issue_date"] + pd.Timedelta(days=window_days) < as_of
    disputed = invoices["invoice_id"].isin(disputes["invoice_id"])
    return disputed[known]


def days_sales_outstanding(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    as_of: pd.Timestamp,
    written_off: pd.Series | None = None,
    window_days: int = DSO_WINDOW_DAYS,
) -> float:
    """DSO at as_of as defined in this module's docstring.

    Args:
        invoices: The invoices table.
        payments: The payments table.
        as_of: The book's extraction date.
        written_off: Customer ids whose receivables are written off (default: none).
        window_days: Days of sales the open balance is compared with.
    """
    paid = payments[payments["payment_date"] < as_of].groupby("invoice_id")["amount"].sum()
    open_rows = invoices[invoices["paid_date"].isna() & (invoices["issue_date"] < as_of)]
    if written_off is not None:
        open_rows = open_rows[~open_rows["customer_id"].isin(written_off)]
    balance = (open_rows["amount"] - open_rows["invoice_id"].map(paid).fillna(0.0)).sum()
    recent = invoices["issue_date"] >= as_of - pd.Timedelta(days=window_days)
    sales = invoices.loc[recent & (invoices["issue_date"] < as_of), "amount"].sum()
    return float(balance / sales * window_days) if sales > 0 else float("nan")


def headline_rates(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, dispute_window_days: int
) -> dict[str, float]:
    """Counts, share late, share disputed, DSO and write-offs of a book."""
    invoices, activities = tables["invoices"], tables["activities"]
    insolvent = activities.loc[activities["kind"] == "insolvency", "customer_id"]
    late = late_outcomes(invoices, as_of)
    disputed = dispute_outcomes(invoices, tables["disputes"], as_of, dispute_window_days)
    paid = invoices.dropna(subset=["paid_date"])
    days_late = (paid["paid_date"] - paid["due_date"]).dt.days
    days_late = days_late[days_late > 0]
    return {
        "customers": float(len(tables["customers"])),
        "invoices": float(len(invoices)),
        "payments": float(len(tables["payments"])),
        "disputes": float(len(tables["disputes"])),
        "activities": float(len(activities)),
        "share_late": float(late.mean()),
        "share_disputed": float(disputed.mean()),
        "dso_days": days_sales_outstanding(invoices, tables["payments"], as_of, insolvent),
        "median_days_late": float(np.median(days_late)) if len(days_late) else float("nan"),
        "p90_days_late": float(np.quantile(days_late, 0.9)) if len(days_late) else float("nan"),
        "insolvent_customers": float(insolvent.nunique()),
    }
