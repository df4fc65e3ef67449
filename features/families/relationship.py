"""Offline builders: relationship context from activities (tickets, orders, promises...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.families.base import ledger, nan_where
from features.timeline import NEVER, Timeline, to_days

if TYPE_CHECKING:
    from features.offline import Context

WINDOWS = {"rel_tickets_30d": 30, "rel_tickets_90d": 90}
ORDER_PROBLEMS = {
    "rel_order_delivery_problem": "delivery_incomplete",
    "rel_order_quality_problem": "quality_issue",
}
PRICING_KINDS = ("price_change", "pricing_discrepancy")


def _activities(context: Context) -> pd.DataFrame:
    def make() -> pd.DataFrame:
        frame = context.table("activities")
        return frame.assign(
            _customer=context.customer_codes(frame["customer_id"]), _day=to_days(frame["date"])
        )

    return context.memo("activities", make)


def kind_timeline(context: Context, *kinds: str) -> Timeline:
    """The customer's activities of the given kinds, by date."""

    def make() -> Timeline:
        a = _activities(context)
        a = a[a["kind"].isin(kinds)]
        return Timeline.build(a["_customer"].to_numpy(), a["_day"].to_numpy())

    return context.memo("kinds:" + ",".join(kinds), make)


def _first_day_per_customer(context: Context, kind: str) -> np.ndarray:
    a = _activities(context)
    a = a[a["kind"] == kind]
    first = np.full(len(context.customer_index), NEVER, dtype=np.int64)
    np.minimum.at(first, a["_customer"].to_numpy(), a["_day"].to_numpy())
    return first


def _first_problem_day(context: Context, kind: str) -> np.ndarray:
    """Per invoice, the first day an activity of ``kind`` names it or its order."""
    a = _activities(context)
    a = a[a["kind"] == kind]
    invoices = context.invoices
    first = np.full(len(invoices), NEVER, dtype=np.int64)
    by_invoice = context.invoice_positions(a["invoice_id"])
    named = by_invoice >= 0
    np.minimum.at(first, by_invoice[named], a["_day"].to_numpy()[named])
    if "order_id" in a.columns and "order_id" in invoices.columns:
        np.minimum(first, _first_day_by_order(context, a), out=first)
    return first


def _first_day_by_order(context: Context, a: pd.DataFrame) -> np.ndarray:
    """Per invoice, the first day of an activity in ``a`` on the same customer's order."""
    invoice_orders = context.invoices["order_id"]
    codes, uniques = pd.factorize(pd.concat([invoice_orders, a["order_id"]], ignore_index=True))
    width = len(uniques) + 1
    invoice_key = context.invoice_customer.astype(np.int64) * width + codes[: len(invoice_orders)]
    activity_codes = codes[len(invoice_orders) :]
    named = activity_codes >= 0
    activity_key = a["_customer"].to_numpy()[named].astype(np.int64) * width + activity_codes[named]
    first = pd.Series(a["_day"].to_numpy()[named]).groupby(activity_key).min()
    if len(first) == 0:
        return np.full(len(invoice_orders), NEVER, dtype=np.int64)
    found = pd.Index(first.index).get_indexer(invoice_key)
    day = np.where(found >= 0, first.to_numpy()[np.maximum(found, 0)], NEVER)
    return np.where(codes[: len(invoice_orders)] >= 0, day, NEVER)


def build_relationship(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Tickets, order problems, pricing, contact, owner changes, escalations, promises."""
    q = context.queries
    opened = kind_timeline(context, "support_ticket_opened")
    closed = kind_timeline(context, "support_ticket_closed")
    contact = kind_timeline(context, "contact")
    pos, n = contact.locate(q.customer, q.t)
    broken = kind_timeline(context, "broken_promise")
    out = {
        "rel_open_tickets": opened.count_before(q.customer, q.t)
        - closed.count_before(q.customer, q.t),
        "rel_pricing_discrepancy_90d": kind_timeline(context, *PRICING_KINDS).count_window(
            q.customer, q.t, 90
        )
        > 0,
        "rel_days_since_contact": q.t - contact.at(contact.day, pos, n),
        "rel_owner_changes_365d": kind_timeline(context, "owner_change").count_window(
            q.customer, q.t, 365
        ),
        "rel_escalations_90d": kind_timeline(context, "escalation").count_window(
            q.customer, q.t, 90
        ),
        "rel_promises_made": kind_timeline(context, "promise_to_pay").count_before(q.customer, q.t),
        "rel_promises_broken": broken.count_before(q.customer, q.t),
        "rel_broken_promises_90d": broken.count_window(q.customer, q.t, 90),
    }
    for name, days in WINDOWS.items():
        out[name] = opened.count_window(q.customer, q.t, days)
    for name, kind in ORDER_PROBLEMS.items():
        if name in names:
            first = context.memo(f"problem:{kind}", lambda k=kind: _first_problem_day(context, k))
            out[name] = first[q.invoice] < q.t
    if "rel_promises_kept" in names:
        out["rel_promises_kept"] = _kept_timeline(context).count_before(q.customer, q.t)
    return {k: v for k, v in out.items() if k in names}


def _kept_timeline(context: Context) -> Timeline:
    """Kept promises, dated when both the promise and the payment are known."""
    a = _activities(context)
    a = a[(a["kind"] == "promise_to_pay") & a["invoice_id"].notna() & a["promised_date"].notna()]
    book = ledger(context)
    invoice = pd.Index(book.invoice_id).get_indexer(a["invoice_id"])
    paid = book.paid[invoice]
    kept = (paid != NEVER) & (paid <= to_days(a["promised_date"]))
    day = np.maximum(a["_day"].to_numpy(), paid)[kept]
    return Timeline.build(a["_customer"].to_numpy()[kept], day)


def build_customer_flags(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Legal hold and insolvency: the customer's first such activity is before t."""
    q = context.queries
    out = {}
    for name, kind in (("cust_legal_hold", "legal_hold"), ("cust_insolvent", "insolvency")):
        if name in names:
            first = _first_day_per_customer(context, kind)
            out[name] = first[q.customer] < q.t
    return out


__all__ = ["build_customer_flags", "build_relationship", "kind_timeline", "nan_where"]
