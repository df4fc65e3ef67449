"""Labels with maturity: what each invoice's outcome was, and from when it could be known.

Three targets, each with a value known at the book's extraction date and the date from which
the value is known *whatever the outcome* (``*_mature_from``). Training and evaluation use a
label only once it is mature at their cut-off: an invoice paid early but not yet due is known
to be on time, but keeping it while its late siblings are still unknown would bias the sample
towards early payers, so it waits for maturity like the others.

- ``late``: paid after ``due_date + grace_days``. Unpaid at the cut-off and past
  ``due_date + grace_days``: late (known). Unpaid and not yet past it: unknown (NaN), never a
  negative. Mature from ``due_date + grace_days + 1 day``.
- ``dispute``: a dispute opened within ``dispute_window_days`` of the issue date. Known once a
  dispute is opened or the window has passed; mature from ``issue_date + window``. A dispute
  opened after the window does not count, so a mature label never changes later.
- ``days_to_pay``: ``paid_date - issue_date`` in days for paid invoices (NaN while unpaid).
  Unpaid invoices are right-censored: they are never treated as paid at the cut-off. The
  training target ``days_to_pay_capped`` is ``min(days_to_pay, horizon)``, and an invoice still
  unpaid ``horizon`` days after issue gets ``horizon`` ("at least horizon"). Quantiles below
  the horizon are unchanged by this cap, so p10/p50/p90 stay unbiased wherever they fall
  under it; a p90 at the horizon reads "horizon days or more". Mature from
  ``issue_date + horizon``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL_COLUMNS = [
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "late",
    "late_mature_from",
    "dispute",
    "dispute_mature_from",
    "days_to_pay",
    "days_to_pay_capped",
    "days_to_pay_mature_from",
]
TARGET_COLUMN = {"late": "late", "dispute": "dispute", "days_to_pay": "days_to_pay_capped"}
ONE_DAY = pd.Timedelta(days=1)


def make_labels(
    invoices: pd.DataFrame,
    disputes: pd.DataFrame | None,
    as_of: pd.Timestamp,
    grace_days: int = 0,
    dispute_window_days: int = 90,
    horizon_days: int = 150,
) -> pd.DataFrame:
    """Label every invoice with its outcomes as known at ``as_of``.

    Args:
        invoices: Canonical invoices (``invoice_id, customer_id, issue_date, due_date,
            amount``, optional ``paid_date``).
        disputes: Canonical disputes (``invoice_id, opened_date``), or None when the book has
            no disputes table: then ``dispute`` is NaN everywhere (unknown, not "none").
        as_of: The extraction date; events dated on it are known, later ones are not.
        grace_days: Days after the due date before a payment counts as late, default 0.
        dispute_window_days: Days after issue within which a dispute counts, default 90.
        horizon_days: Cap of ``days_to_pay_capped``, default 150.

    Returns:
        One row per invoice with ``LABEL_COLUMNS``; targets are float64 with NaN = unknown.

    Raises:
        KeyError: A required invoice or dispute column is missing (named in the message).
    """
    _require(invoices, ["invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    as_of = pd.Timestamp(as_of)
    labels = invoices[["invoice_id", "customer_id", "issue_date", "due_date", "amount"]].copy()
    paid_date = _paid_date(invoices, as_of)
    labels["late"], labels["late_mature_from"] = late_label(
        labels["due_date"], paid_date, as_of, grace_days
    )
    labels["dispute"], labels["dispute_mature_from"] = dispute_label(
        labels[["invoice_id", "issue_date"]], disputes, as_of, dispute_window_days
    )
    days, capped, mature = days_to_pay_label(labels["issue_date"], paid_date, as_of, horizon_days)
    labels["days_to_pay"], labels["days_to_pay_capped"] = days, capped
    labels["days_to_pay_mature_from"] = mature
    return labels.reset_index(drop=True)


def _require(frame: pd.DataFrame, columns: list[str], table: str = "invoices") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{table}: missing column {missing[0]!r} needed for labels")


def _paid_date(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Paid dates as known at ``as_of`` (a payment after it is not yet known)."""
    if "paid_date" not in invoices.columns:
        return pd.Series(pd.NaT, index=invoices.index, dtype="datetime64[ns]")
    paid = pd.to_datetime(invoices["paid_date"])
    return paid.where(paid <= as_of)


def late_label(
    due_date: pd.Series, paid_date: pd.Series, as_of: pd.Timestamp, grace_days: int
) -> tuple[pd.Series, pd.Series]:
    """The late label known at ``as_of`` and its maturity date, one value per invoice."""
    deadline = due_date + pd.Timedelta(days=grace_days)
    late = pd.Series(np.nan, index=due_date.index)
    paid = paid_date.notna()
    late[paid] = (paid_date[paid] > deadline[paid]).astype(float)
    late[~paid & (as_of > deadline)] = 1.0
    return late, deadline + ONE_DAY


def dispute_label(
    invoices: pd.DataFrame,
    disputes: pd.DataFrame | None,
    as_of: pd.Timestamp,
    window_days: int,
) -> tuple[pd.Series, pd.Series]:
    """The dispute label known at ``as_of`` and its maturity date, one value per invoice."""
    window_end = invoices["issue_date"] + pd.Timedelta(days=window_days)
    dispute = pd.Series(np.nan, index=invoices.index)
    if disputes is None:
        return dispute, window_end
    _require(disputes, ["invoice_id", "opened_date"], "disputes")
    opened = disputes.loc[disputes["opened_date"] <= as_of].groupby("invoice_id")["opened_date"]
    first_opened = invoices["invoice_id"].map(opened.min())
    disputed = (first_opened < window_end).fillna(False).astype(bool)
    dispute[window_end <= as_of] = 0.0
    dispute[disputed] = 1.0
    return dispute, window_end


def days_to_pay_label(
    issue_date: pd.Series, paid_date: pd.Series, as_of: pd.Timestamp, horizon_days: int
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Days to pay (NaN while unpaid), its capped training target and its maturity date."""
    days = (paid_date - issue_date).dt.days.astype(float)
    horizon_end = issue_date + pd.Timedelta(days=horizon_days)
    capped = days.clip(upper=horizon_days)
    capped[days.isna() & (horizon_end <= as_of)] = float(horizon_days)
    return days, capped, horizon_end


def label_counts(labels: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per target, how many invoices have a known label, how many positives and unknowns."""
    counts = {}
    for target, column in TARGET_COLUMN.items():
        known = labels[column].notna()
        counts[target] = {"known": int(known.sum()), "unknown": int((~known).sum())}
        if target != "days_to_pay":
            counts[target]["positive"] = int((labels[column] == 1).sum())
    return counts
