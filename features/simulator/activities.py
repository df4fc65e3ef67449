"""The activities table: every dated customer event the book records, in one log.

Kinds come from ``schema.ACTIVITY_KINDS``: owner changes (detail = the new revenue owner),
price changes, support tickets opening and closing (detail = the ticket number), order
problems (delivery_incomplete, quality_issue, pricing_discrepancy, with the order and the
invoice), collections (contact, promise_to_pay with promised_date, broken_promise,
escalation), and legal_hold then insolvency for customers going bust.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.simulator.calendar import NEVER
from features.simulator.customers import count_staff
from features.simulator.ids import make_ids

if TYPE_CHECKING:
    from features.simulator.tables import World

NO_INVOICE = -1
ACTIVITY_COLUMNS = ("customer", "invoice", "day", "kind", "detail", "promised_day")


def _part(
    customer: np.ndarray,
    day: np.ndarray,
    kind: str,
    detail: np.ndarray | str | None,
    invoice: np.ndarray | None = None,
    promised_day: np.ndarray | None = None,
) -> dict:
    n = len(customer)
    return {
        "customer": np.asarray(customer, dtype=np.int64),
        "invoice": np.full(n, NO_INVOICE) if invoice is None else invoice,
        "day": np.asarray(day, dtype=np.int64),
        "kind": np.full(n, kind, dtype=object),
        "detail": np.broadcast_to(np.asarray(detail, dtype=object), (n,)),
        "promised_day": np.full(n, NEVER) if promised_day is None else promised_day,
    }


def customer_parts(world: World) -> list[dict]:
    """Owner changes, price changes, support tickets, legal hold and insolvency."""
    owners, prices, tickets = world.owner_changes, world.price_changes, world.tickets
    owner_ids = make_ids(
        "RO-", count_staff(world.customers.n, world.config.customer.customers_per_revenue_owner), 3
    )
    ticket_ids = make_ids("TCK-", len(tickets))
    price_detail = np.char.add("price list +", prices.value.astype(str)).astype(object)
    insolvent = np.flatnonzero(world.insolvent_month >= 0)
    hold_day = world.calendar.month_start[world.insolvent_month[insolvent]]
    return [
        _part(owners.customer, owners.day, "owner_change", owner_ids[owners.value]),
        _part(prices.customer, prices.day, "price_change", np.asarray(price_detail) + "%"),
        _part(tickets.customer, tickets.day, "support_ticket_opened", ticket_ids),
        _part(tickets.customer, tickets.value, "support_ticket_closed", ticket_ids),
        _part(insolvent, hold_day, "legal_hold", "account on legal hold: credit stopped"),
        _part(insolvent, world.insolvency_day[insolvent], "insolvency", "insolvency filed"),
    ]


def invoice_parts(world: World) -> list[dict]:
    """Order problems before issue and collections after the due date."""
    invoices, problems, done = world.invoices, world.problems, world.collections
    parts = []
    for flag, day, kind, detail in (
        (
            problems.delivery,
            problems.delivery_day,
            "delivery_incomplete",
            "order delivered incomplete",
        ),
        (problems.quality, problems.quality_day, "quality_issue", "quality problem reported"),
        (
            problems.pricing,
            problems.pricing_day,
            "pricing_discrepancy",
            "order priced off the current price list",
        ),
    ):
        rows = np.flatnonzero(flag)
        parts.append(_part(invoices.customer[rows], day[rows], kind, detail, invoice=rows))
    detail = {
        "contact": "payment reminder",
        "promise_to_pay": "promise to pay in full",
        "broken_promise": "promised payment not received",
        "escalation": "escalated to the collections manager",
    }
    promised = np.where(done.promised_day >= 0, done.promised_day, NEVER)
    parts.append(
        {
            "customer": invoices.customer[done.invoice],
            "invoice": done.invoice,
            "day": done.day,
            "kind": done.kind,
            "detail": np.asarray(
                [detail[k] for k in ("contact", "promise_to_pay", "broken_promise", "escalation")],
                dtype=object,
            )[_kind_codes(done.kind)],
            "promised_day": promised,
        }
    )
    return parts


def _kind_codes(kind: np.ndarray) -> np.ndarray:
    codes = {"contact": 0, "promise_to_pay": 1, "broken_promise": 2, "escalation": 3}
    return pd.Series(kind).map(codes).to_numpy(np.int64)


def activities_table(world: World) -> pd.DataFrame:
    """All activities dated before as_of; a customer's collections stop at its insolvency."""
    parts = customer_parts(world) + invoice_parts(world)
    merged = {c: np.concatenate([p[c] for p in parts]) for c in ACTIVITY_COLUMNS}
    day, customer = merged["day"], merged["customer"]
    after_insolvency = (day > world.insolvency_day[customer]) & (merged["invoice"] != NO_INVOICE)
    keep = (day < world.calendar.as_of_day) & ~after_insolvency
    keep_rows = np.flatnonzero(keep)
    order = keep_rows[np.lexsort((customer[keep_rows], day[keep_rows]))]
    invoice = merged["invoice"][order]
    has_invoice = invoice != NO_INVOICE
    return pd.DataFrame(
        {
            "activity_id": make_ids("ACT-", len(order), 7),
            "customer_id": world.customer_ids[customer[order]],
            "invoice_id": np.where(has_invoice, world.invoice_ids[np.maximum(invoice, 0)], None),
            "order_id": np.where(has_invoice, world.order_ids[np.maximum(invoice, 0)], None),
            "date": world.calendar.to_dates(day[order]),
            "kind": merged["kind"][order],
            "detail": merged["detail"][order],
            "promised_date": world.calendar.to_dates(merged["promised_day"][order]),
        }
    )
