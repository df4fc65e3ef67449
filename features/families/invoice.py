"""Offline builders: invoice facts, customer attributes and lifecycle of the scored invoice."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.families.base import invoice_rank, ledger, nan_where, payments, to_cents
from features.registry import MONTH_END_DAYS
from features.schema import SEGMENTS
from features.timeline import Timeline, to_days

if TYPE_CHECKING:
    from features.offline import Context


def issued_timeline(context: Context) -> Timeline:
    """The customer's invoices by issue date (tie-break: invoice_id)."""

    def make() -> Timeline:
        book = ledger(context)
        columns = {"cents": book.cents}
        return Timeline.build(book.customer, book.issue, columns, invoice_rank(context))

    return context.memo("timeline:issued", make)


def build_invoice(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """amount, terms, calendar, paperless and amount versus the customer's usual."""
    q, book, invoices = context.queries, ledger(context), context.invoices
    issue_dates = invoices["issue_date"].iloc[q.invoice]
    due_dates = invoices["due_date"].iloc[q.invoice]
    days_in_month = issue_dates.dt.days_in_month.to_numpy()
    out = {
        "amount": invoices["amount"].to_numpy(dtype="float64")[q.invoice],
        "inv_terms_days": (book.due - book.issue)[q.invoice],
        "inv_issue_month": issue_dates.dt.month.to_numpy(),
        "inv_due_day_of_month": due_dates.dt.day.to_numpy(),
        "inv_due_month": due_dates.dt.month.to_numpy(),
        "inv_issue_month_end": issue_dates.dt.day.to_numpy() > days_in_month - MONTH_END_DAYS,
    }
    if "inv_paperless" in names:
        paperless = invoices["paperless"].iloc[q.invoice]
        out["inv_paperless"] = paperless.to_numpy(dtype="float64", na_value=np.nan)
    if "inv_amount_vs_usual" in names:
        out["inv_amount_vs_usual"] = _amount_vs_usual(context)
    return out


def _amount_vs_usual(context: Context) -> np.ndarray:
    q, book = context.queries, ledger(context)
    issued = issued_timeline(context)
    median = context.memo(
        "issued_median", lambda: issued.expanding_quantile(issued.columns["cents"] / 100, 0.5)
    )
    pos, count = issued.locate(q.customer, book.issue[q.invoice])
    usual = issued.at(median, pos, count)
    amount = book.cents[q.invoice] / 100
    return amount / usual


def build_customer(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Static customer attributes (segment, strategic, credit limit, tenure)."""
    q = context.queries
    customers = context.table("customers")
    row = customer_rows(context)[q.customer]
    known = row >= 0
    take = np.maximum(row, 0)

    def column(name: str) -> pd.Series:
        return customers[name].iloc[take].reset_index(drop=True)

    out: dict[str, np.ndarray] = {}
    if "cust_segment" in names:
        code = pd.Categorical(column("segment"), categories=SEGMENTS).codes
        out["cust_segment"] = nan_where((code < 0) | ~known, code)
    if "cust_strategic" in names:
        strategic = column("strategic").to_numpy(dtype="float64", na_value=np.nan)
        out["cust_strategic"] = nan_where(~known, strategic)
    if "cust_credit_limit" in names:
        limit = column("credit_limit").to_numpy(dtype="float64", na_value=np.nan)
        out["cust_credit_limit"] = nan_where(~known, limit)
    if "cust_tenure_days" in names:
        created = to_days(column("created_date"))
        out["cust_tenure_days"] = nan_where(~known | (created > q.t), q.t - created)
    return out


def customer_rows(context: Context) -> np.ndarray:
    """Per customer code, its row in the customers table (-1 when absent)."""
    customers = context.table("customers")
    return context.memo(
        "customer_rows",
        lambda: pd.Index(customers["customer_id"]).get_indexer(context.customer_index),
    )


def build_lifecycle(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Days since issue, days past due and the paid share of the scored invoice."""
    q, book = context.queries, ledger(context)
    out = {
        "days_past_due": q.t - book.due[q.invoice],
        "life_days_since_issue": q.t - book.issue[q.invoice],
    }
    if "life_paid_share" in names:
        out["life_paid_share"] = _paid_share(context)
    return out


def _paid_share(context: Context) -> np.ndarray:
    q, book = context.queries, ledger(context)
    pays = payments(context)
    by_invoice = Timeline.build(pays.invoice, pays.day, {"cents": pays.cents})
    pos, count = by_invoice.locate(q.invoice, q.t)
    paid_cents = by_invoice.at(by_invoice.cumulative(by_invoice.columns["cents"]), pos, count, 0.0)
    share = paid_cents / book.cents[q.invoice]
    return np.where(book.paid[q.invoice] < q.t, 1.0, share)


__all__ = ["build_customer", "build_invoice", "build_lifecycle", "issued_timeline", "to_cents"]
