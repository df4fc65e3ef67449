"""What the pages show beyond the worklist: one invoice, its customer's timeline, the decision
history, the open book for the overview, the keys. Plain reads; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.store.models import (
    Activity,
    ApiKey,
    Customer,
    Decision,
    Dispute,
    Invoice,
    Payment,
    WorklistItem,
)

TIMELINE_LIMIT = 60
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class TimelineEvent:
    """One dated fact of a customer's history, as a line of the timeline."""

    day: date
    kind: str
    invoice_id: str | None
    text: str


@dataclass(frozen=True)
class OpenInvoice:
    """An unpaid invoice of the overview: what is still owed, and its stored decision."""

    currency: str
    due_date: date
    outstanding: Decimal
    owner: str | None
    decision: dict[str, Any] | None


def read_invoice(session: Session, invoice_id: str) -> tuple[Invoice, Customer] | None:
    row = session.execute(
        select(Invoice, Customer)
        .join(Customer, Customer.customer_id == Invoice.customer_id)
        .where(Invoice.invoice_id == invoice_id)
    ).first()
    return None if row is None else (row[0], row[1])


def read_item(session: Session, invoice_id: str) -> tuple[WorklistItem, Decision | None] | None:
    """The invoice's worklist item and the decision it points at."""
    item = session.get(WorklistItem, invoice_id)
    if item is None:
        return None
    decision = session.get(Decision, item.decision_id) if item.decision_id else None
    return item, decision


def read_history(session: Session, invoice_id: str) -> list[Decision]:
    """The invoice's champion decisions, newest first (at most ``HISTORY_LIMIT``)."""
    query = (
        select(Decision)
        .where(Decision.invoice_id == invoice_id, Decision.role == "champion")
        .order_by(Decision.created_at.desc())
        .limit(HISTORY_LIMIT)
    )
    return list(session.scalars(query))


def read_timeline(
    session: Session, customer_id: str, limit: int | None = TIMELINE_LIMIT
) -> tuple[list[TimelineEvent], int]:
    """The customer's invoices, payments, disputes and activities, newest first, and how many
    there are in all; at most ``limit`` (None: all) are returned."""
    events: list[TimelineEvent] = []
    invoices = session.scalars(select(Invoice).where(Invoice.customer_id == customer_id))
    for inv in invoices:
        money = f"{inv.amount:,.2f} {inv.currency}"
        events.append(
            TimelineEvent(
                inv.issue_date,
                "invoice",
                inv.invoice_id,
                f"issued, {money}, due {inv.due_date.isoformat()}",
            )
        )
        if inv.paid_date is not None:
            events.append(TimelineEvent(inv.paid_date, "paid", inv.invoice_id, "paid in full"))
    of_customer = select(Invoice.invoice_id).where(Invoice.customer_id == customer_id)
    payments = session.execute(
        select(Payment, Invoice.currency)
        .join(Invoice, Invoice.invoice_id == Payment.invoice_id)
        .where(Payment.invoice_id.in_(of_customer))
    )
    for pay, currency in payments:
        events.append(
            TimelineEvent(
                pay.payment_date, "payment", pay.invoice_id, f"payment {pay.amount:,.2f} {currency}"
            )
        )
    for dispute in session.scalars(select(Dispute).where(Dispute.invoice_id.in_(of_customer))):
        events.append(
            TimelineEvent(
                dispute.opened_date,
                "dispute",
                dispute.invoice_id,
                f"dispute opened: {dispute.reason}",
            )
        )
        if dispute.resolved_date is not None:
            events.append(
                TimelineEvent(
                    dispute.resolved_date,
                    "dispute",
                    dispute.invoice_id,
                    f"dispute resolved: {dispute.resolution or 'no resolution given'}",
                )
            )
    for act in session.scalars(select(Activity).where(Activity.customer_id == customer_id)):
        events.append(TimelineEvent(act.date, act.kind, act.invoice_id, activity_text(act)))
    events.sort(key=lambda e: e.day, reverse=True)
    return events[:limit], len(events)


def activity_text(activity: Activity) -> str:
    words = activity.kind.replace("_", " ")
    if activity.promised_date is not None:
        words += f", promised for {activity.promised_date.isoformat()}"
    if activity.detail:
        words += f": {activity.detail}"
    return words


def read_open_book(session: Session) -> list[OpenInvoice]:
    """Every unpaid invoice with what is still owed, its owner and its stored decision."""
    paid = (
        select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
        .join(Invoice, Invoice.invoice_id == Payment.invoice_id)
        .where(Invoice.paid_date.is_(None))
        .group_by(Payment.invoice_id)
        .subquery()
    )
    query = (
        select(
            Invoice.currency,
            Invoice.due_date,
            Invoice.amount - func.coalesce(paid.c.paid, 0),
            WorklistItem.owner,
            Decision.decision,
        )
        .outerjoin(paid, paid.c.invoice_id == Invoice.invoice_id)
        .outerjoin(WorklistItem, WorklistItem.invoice_id == Invoice.invoice_id)
        .outerjoin(Decision, Decision.decision_id == WorklistItem.decision_id)
        .where(Invoice.paid_date.is_(None))
    )
    return [
        OpenInvoice(currency, due, Decimal(str(left)), owner, decision)
        for currency, due, left, owner, decision in session.execute(query)
    ]


def read_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id)))
