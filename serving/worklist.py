"""Worklists and the actions people record on them.

The worklist holds every invoice that has been decided. Reading it re-scores the open ones
(unpaid, not resolved) as of today, logging each fresh decision, then filters and ranks them
by expected amount at risk. Actions become activities (or, for a logged dispute, a dispute)
through the same idempotent ingest as the API, so they feed the features at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.decide import Decided, DecisionError, decide, log_decision, read_facts
from serving.engine import Engine
from serving.live import LiveFeatures, events_for
from serving.store.book import ingest
from serving.store.models import Invoice, WorklistItem

SCAN_LIMIT = 2000
ACTIVITY_OF = {
    "contacted": "contact",
    "promise_to_pay": "promise_to_pay",
    "escalated": "escalation",
    "resolved": "note",
}
STATUS_OF = {
    "contacted": "contacted",
    "promise_to_pay": "promised",
    "dispute_logged": "disputed",
    "escalated": "escalated",
    "resolved": "resolved",
}


@dataclass(frozen=True)
class WorklistFilter:
    owner: str | None = None
    assignee: str | None = None
    tier: str | None = None
    status: str | None = None
    limit: int = 50


def open_items(session: Session, status: str | None) -> list[tuple[str, str, str | None]]:
    """(invoice_id, status, last_action) of unpaid worklist items, largest stored risk first."""
    query = (
        select(WorklistItem.invoice_id, WorklistItem.status, WorklistItem.last_action)
        .join(Invoice, Invoice.invoice_id == WorklistItem.invoice_id)
        .where(Invoice.paid_date.is_(None))
        .order_by(WorklistItem.amount_at_risk.desc(), WorklistItem.invoice_id)
        .limit(SCAN_LIMIT)
    )
    if status is None:
        query = query.where(WorklistItem.status != "resolved")
    else:
        query = query.where(WorklistItem.status == status)
    return [tuple(row) for row in session.execute(query)]


def rescore(
    session: Session,
    engine: Engine,
    live: LiveFeatures,
    wanted: WorklistFilter,
    as_of: date,
    request_id: str | None,
) -> list[tuple[str, str | None, Decided]]:
    """Re-decide the open items and keep those matching ``wanted``, ranked, at most ``limit``.

    Returns:
        (status, last action, decision) per item, highest amount at risk first.
    """
    kept = []
    for invoice_id, status, last_action in open_items(session, wanted.status):
        try:
            decided = decide(engine, live, read_facts(session, invoice_id), as_of)
        except DecisionError:
            continue
        log_decision(session, decided, request_id)
        body = decided.body
        if _matches(body, wanted):
            kept.append((status, last_action, decided))
    session.commit()
    kept.sort(key=lambda item: -item[2].body["priority"]["amount_at_risk"])
    return kept[: wanted.limit]


def _matches(body: dict[str, Any], wanted: WorklistFilter) -> bool:
    return (
        (wanted.owner is None or body["owner"] == wanted.owner)
        and (wanted.tier is None or body["priority"]["tier"] == wanted.tier)
        and (wanted.assignee is None or wanted.assignee in (body["assignee"], body["co_assignee"]))
    )


def record_action(
    session: Session, live: LiveFeatures, invoice_id: str, action: dict[str, Any], day: date
) -> tuple[str, str, str]:
    """Store an action as an activity or a dispute and move the item's status.

    Returns:
        The ingest result (created or unchanged), the new status, and what it was stored as.

    Raises:
        DecisionError: 404 for an unknown invoice.
        IngestError: A conflicting replay of the same action id, or a rule of the book.
    """
    facts = read_facts(session, invoice_id)
    kind = action["action"]
    if kind == "dispute_logged":
        table, values = "disputes", _dispute(action, facts.invoice_id, facts.amount, day)
    else:
        table, values = "activities", _activity(action, facts.customer_id, invoice_id, day)
    outcome, _ = ingest(session, table, values)
    status = STATUS_OF[kind]
    _set_status(session, invoice_id, status, kind)
    session.commit()
    live.apply(events_for(table, values, outcome))
    return outcome.result, status, "dispute" if table == "disputes" else "activity"


def _dispute(action: dict[str, Any], invoice_id: str, amount: Any, day: date) -> dict[str, Any]:
    return {
        "dispute_id": action["action_id"],
        "invoice_id": invoice_id,
        "opened_date": day,
        "reason": action["reason"],
        "amount": amount,
        "resolved_date": None,
        "resolution": None,
    }


def _activity(
    action: dict[str, Any], customer_id: str, invoice_id: str, day: date
) -> dict[str, Any]:
    detail = action.get("detail")
    if action["action"] == "resolved":
        detail = "resolved" if not detail else f"resolved: {detail}"
    return {
        "activity_id": action["action_id"],
        "customer_id": customer_id,
        "invoice_id": invoice_id,
        "order_id": None,
        "date": day,
        "kind": ACTIVITY_OF[action["action"]],
        "detail": detail,
        "promised_date": action.get("promised_date"),
    }


def _set_status(session: Session, invoice_id: str, status: str, kind: str) -> None:
    now = datetime.now(UTC)
    values = {"status": status, "last_action": kind, "updated_at": now}
    changed = session.execute(
        update(WorklistItem).where(WorklistItem.invoice_id == invoice_id).values(**values)
    ).rowcount
    if changed:
        return
    try:
        with session.begin_nested():
            session.execute(insert(WorklistItem.__table__), [{"invoice_id": invoice_id, **values}])
    except IntegrityError:
        session.execute(
            update(WorklistItem).where(WorklistItem.invoice_id == invoice_id).values(**values)
        )
