"""Offline builders: the customer's payment history and exposure at t."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features.families.base import invoice_rank, ledger, nan_where, payments, ratio
from features.families.invoice import customer_rows, issued_timeline
from features.registry import EWM_ALPHA, LONG_LATE_DAYS, RECENT_DAYS, RECENT_PAYMENTS
from features.timeline import NEVER, Timeline

if TYPE_CHECKING:
    from features.offline import Context


def paid_timeline(context: Context) -> Timeline:
    """Paid invoices by paid date (tie-break: invoice_id), with their lateness."""

    def make() -> Timeline:
        book = ledger(context)
        paid = book.paid != NEVER
        payment_count = np.bincount(payments(context).invoice, minlength=len(book.paid))
        days_late = (book.paid - book.due)[paid]
        columns = {
            "days_late": days_late,
            "late": (days_late > 0).astype(np.int64),
            "cents": book.cents[paid],
            "late_cents": np.where(days_late > 0, book.cents[paid], 0),
            "days_to_pay": (book.paid - book.issue)[paid],
            "partial": (payment_count[paid] > 1).astype(np.int64),
            "late30": (days_late > LONG_LATE_DAYS).astype(np.int64),
        }
        rank = invoice_rank(context)[paid]
        return Timeline.build(book.customer[paid], book.paid[paid], columns, rank)

    return context.memo("timeline:paid", make)


def build_history(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Counts, late shares, days-late statistics, recency and trend of paid invoices."""
    q = context.queries
    paid = paid_timeline(context)
    f = paid.columns
    pos, n = paid.locate(q.customer, q.t)
    total = {
        c: paid.at(paid.cumulative(f[c]), pos, n, 0.0)
        for c in ("late", "days_late", "cents", "late_cents", "days_to_pay", "partial", "late30")
    }
    last = np.minimum(n, RECENT_PAYMENTS)
    recent_days = paid.sum_last(paid.cumulative(f["days_late"]), pos, n, RECENT_PAYMENTS)
    recent_late = paid.sum_last(paid.cumulative(f["late"]), pos, n, RECENT_PAYMENTS)
    last_late_day = paid.running_max(np.where(f["late"] > 0, paid.day, -NEVER))
    last_late = paid.at(last_late_day, pos, n, -NEVER)
    out = {
        "hist_n_invoices": issued_timeline(context).count_before(q.customer, q.t),
        "hist_n_paid": n,
        "hist_n_late": total["late"],
        "hist_late_share": ratio(total["late"], n),
        "hist_late_share_amount": ratio(total["late_cents"], total["cents"]),
        "hist_days_late_mean": ratio(total["days_late"], n),
        "hist_late_share_last5": ratio(recent_late, last),
        "hist_days_late_mean_last5": ratio(recent_days, last),
        "hist_days_since_last_late": nan_where(last_late == -NEVER, q.t - last_late),
        "hist_days_since_last_paid": q.t - paid.at(paid.day, pos, n),
        "hist_days_to_pay_mean": ratio(total["days_to_pay"], n),
        "hist_partial_share": ratio(total["partial"], n),
        "hist_late30_share": ratio(total["late30"], n),
    }
    pos_recent, n_before = paid.locate(q.customer, q.t - RECENT_DAYS)
    n_recent = n - n_before
    for name, column in (("hist_late_share_90d", "late"), ("hist_days_late_mean_90d", "days_late")):
        before = paid.at(paid.cumulative(f[column]), pos_recent, n_before, 0.0)
        out[name] = ratio(total[column] - before, n_recent)
    out["hist_days_late_trend"] = out["hist_days_late_mean_last5"] - out["hist_days_late_mean"]
    for name, quantile in (("hist_days_late_median", 0.5), ("hist_days_late_p90", 0.9)):
        if name in names:
            out[name] = paid.at(paid.expanding_quantile(f["days_late"], quantile), pos, n)
    if "hist_days_late_ewm" in names:
        out["hist_days_late_ewm"] = paid.at(paid.ewm_mean(f["days_late"], EWM_ALPHA), pos, n)
    return {k: v for k, v in out.items() if k in names}


def _balance_timeline(context: Context, overdue: bool) -> Timeline:
    """Signed cent and count changes of the open (or overdue) balance, by the day they apply.

    Open: +amount at issue, -payment at its date, -residual at the paid date. Overdue: the
    same changes, but none applies before the day the invoice falls overdue (its due date).
    """
    book, pays = ledger(context), payments(context)
    is_paid = book.paid != NEVER
    start = book.due if overdue else book.issue
    floor_pay = book.due[pays.invoice] if overdue else pays.day
    floor_paid = book.due[is_paid] if overdue else book.paid[is_paid]
    day = np.concatenate(
        [start, np.maximum(pays.day, floor_pay), np.maximum(book.paid[is_paid], floor_paid)]
    )
    customer = np.concatenate([book.customer, book.customer[pays.invoice], book.customer[is_paid]])
    columns = {
        "cents": np.concatenate([book.cents, -pays.cents, -book.residual[is_paid]]),
        "count": np.concatenate(
            [
                np.ones(len(start), np.int64),
                np.zeros(len(pays.day), np.int64),
                -np.ones(int(is_paid.sum()), np.int64),
            ]
        ),
    }
    return Timeline.build(customer, day, columns)


def build_exposure(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Open and overdue balance and count, oldest overdue, credit use at t."""
    q = context.queries
    out: dict[str, np.ndarray] = {}
    for label, overdue in (("open", False), ("overdue", True)):
        timeline = context.memo(
            f"timeline:{label}", lambda o=overdue: _balance_timeline(context, o)
        )
        pos, n = timeline.locate(q.customer, q.t)
        out[f"exp_{label}_count"] = timeline.at(
            timeline.cumulative(timeline.columns["count"]), pos, n, 0
        )
        cents = timeline.at(timeline.cumulative(timeline.columns["cents"]), pos, n, 0)
        out[f"exp_{label}_balance"] = cents / 100
    out["exp_overdue_share"] = ratio(out["exp_overdue_balance"], out["exp_open_balance"])
    out["exp_oldest_overdue_days"] = _oldest_overdue_days(context)
    if "exp_credit_use" in names:
        customers = context.table("customers")
        row = customer_rows(context)[q.customer]
        limit = customers["credit_limit"].to_numpy(dtype="float64", na_value=np.nan)
        limit = np.where(row >= 0, limit[np.maximum(row, 0)], np.nan)
        usable = np.nan_to_num(limit, nan=0.0) > 0
        out["exp_credit_use"] = np.where(
            usable, out["exp_open_balance"] / np.where(usable, limit, 1), np.nan
        )
    return {k: v for k, v in out.items() if k in names}


def _oldest_overdue_days(context: Context) -> np.ndarray:
    """t - due date of the first invoice, in due-date order, still unpaid at t.

    In due order, the running maximum of paid days first reaches t exactly at the first
    invoice not paid before t, so one ``searchsorted`` on it finds the oldest overdue.
    """
    q, book = context.queries, ledger(context)
    by_due = context.memo(
        "timeline:due",
        lambda: Timeline.build(book.customer, book.due, {"paid": book.paid}, invoice_rank(context)),
    )
    due_pos, due_n = by_due.locate(q.customer, q.t)
    reach = Timeline(by_due.group, by_due.running_max(by_due.columns["paid"]), {})
    first_pos, first_i = reach.locate(q.customer, q.t)
    overdue = first_i < due_n
    oldest_due = by_due.day[np.minimum(first_pos, max(len(by_due) - 1, 0))] if len(by_due) else q.t
    return np.where(overdue, q.t - oldest_due, np.nan)
