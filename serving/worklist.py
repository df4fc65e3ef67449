"""Worklists and the actions people record on them.

The worklist holds every open invoice (unpaid) with its latest stored decision. A read is one
SQL query over ``worklist_items`` joined to the decision, invoice and customer: filtered,
ranked by expected amount at risk, paged. ``serving.freshness`` keeps the stored decisions
current: a read first re-decides the stale items it may show (at most ``SYNC_LIMIT``) and
leaves the rest to the background refresh, saying how many are pending.

Actions become activities (or, for a logged dispute, a dispute) through the same idempotent
ingest as the API, so they feed the features at once, and the invoice is re-decided at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.decide import DecisionError, decide, log_decision, read_facts, today
from serving.engine import Engine
from serving.freshness import count_stale, refresh, touch
from serving.live import LiveFeatures
from serving.store.book import ingest
from serving.store.models import Customer, Decision, Invoice, WorklistItem

# A read re-decides at most this many stale items itself (about a second on the demo models);
# the background refresh does the rest.
SYNC_LIMIT = 200

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
    """Which items to show: every field that is set must match; ``status`` None hides resolved.

    ``assignee`` matches the item's assignee, or either owner of a joint item's customer.
    """

    owner: str | None = None
    assignee: str | None = None
    tier: str | None = None
    status: str | None = None
    customer_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class WorklistRow:
    """One item as shown: the invoice, its customer, where it stands, its decision body."""

    invoice_id: str
    customer_id: str
    customer_name: str | None
    status: str
    last_action: str | None
    due_date: date
    amount: Decimal
    currency: str
    decision: dict[str, Any]


@dataclass(frozen=True)
class WorklistPage:
    """A page of the ranked worklist: ``total`` items match; ``pending`` await re-decision."""

    as_of: date
    total: int
    offset: int
    items: list[WorklistRow]
    pending: int


def _status_condition(wanted: WorklistFilter) -> Any:
    """The status asked for; by default every status but resolved."""
    if wanted.status is None:
        return WorklistItem.status != "resolved"
    return WorklistItem.status == wanted.status


def conditions(wanted: WorklistFilter) -> list[Any]:
    """SQL conditions of ``wanted`` over ``WorklistItem``, ``Invoice`` and ``Customer``."""
    where: list[Any] = [Invoice.paid_date.is_(None), _status_condition(wanted)]
    if wanted.owner is not None:
        where.append(WorklistItem.owner == wanted.owner)
    if wanted.tier is not None:
        where.append(WorklistItem.tier == wanted.tier)
    if wanted.customer_id is not None:
        where.append(Invoice.customer_id == wanted.customer_id)
    if wanted.assignee is not None:
        joint_owner = and_(
            WorklistItem.owner == "joint",
            or_(
                Customer.collector_id == wanted.assignee,
                Customer.revenue_owner_id == wanted.assignee,
            ),
        )
        where.append(or_(WorklistItem.assignee == wanted.assignee, joint_owner))
    return where


def _joined(query: Select) -> Select:
    return (
        query.select_from(WorklistItem)
        .join(Invoice, Invoice.invoice_id == WorklistItem.invoice_id)
        .join(Customer, Customer.customer_id == Invoice.customer_id)
    )


def _rows_query(wanted: WorklistFilter) -> Select:
    columns = (
        WorklistItem.invoice_id,
        Invoice.customer_id,
        Customer.name,
        WorklistItem.status,
        WorklistItem.last_action,
        Invoice.due_date,
        Invoice.amount,
        Invoice.currency,
        Decision.decision,
    )
    return (
        _joined(select(*columns))
        .join(Decision, Decision.decision_id == WorklistItem.decision_id)
        .where(*conditions(wanted))
        .order_by(WorklistItem.amount_at_risk.desc(), WorklistItem.invoice_id)
    )


def read_rows(session: Session, wanted: WorklistFilter) -> tuple[int, list[WorklistRow]]:
    """The number of decided items matching ``wanted`` and the page of them it asks for."""
    total_query = _joined(select(func.count())).where(
        WorklistItem.decision_id.is_not(None), *conditions(wanted)
    )
    total = session.scalar(total_query) or 0
    page = _rows_query(wanted).limit(wanted.limit).offset(wanted.offset)
    return total, [WorklistRow(*row) for row in session.execute(page)]


def iter_rows(session: Session, wanted: WorklistFilter, chunk: int = 1000) -> Iterator[WorklistRow]:
    """Every decided item matching ``wanted``, ranked (the CSV export; no paging)."""
    for row in session.execute(_rows_query(wanted).execution_options(yield_per=chunk)):
        yield WorklistRow(*row)


def read_worklist(
    sessions: sessionmaker[Session],
    engine: Engine | None,
    live: LiveFeatures,
    wanted: WorklistFilter,
    as_of: date | None = None,
) -> WorklistPage:
    """Re-decide the stale items the page may show, then read the page.

    Args:
        sessions: Session factory of the store.
        engine: Models and policy in use; None shows the stored decisions as they are.
        live: The online features.
        wanted: Filters and paging.
        as_of: The day decided for (default: today, UTC).
    """
    as_of = as_of or today()
    if engine is not None:
        limit = max(SYNC_LIMIT, wanted.offset + wanted.limit)
        refresh(sessions, engine, live, as_of, limit=limit, where=_stale_filter(wanted))
    with sessions() as session:
        total, items = read_rows(session, wanted)
        pending = count_stale(session, as_of)
    return WorklistPage(as_of, total, wanted.offset, items, pending)


def _stale_filter(wanted: WorklistFilter) -> list[Any]:
    """Stale items the page may show once re-decided (owner and tier may change, so unused)."""
    where: list[Any] = [_status_condition(wanted)]
    if wanted.customer_id is not None:
        where.append(Invoice.customer_id == wanted.customer_id)
    if wanted.assignee is not None:
        owners = or_(
            Customer.collector_id == wanted.assignee, Customer.revenue_owner_id == wanted.assignee
        )
        its_customer = select(Customer.customer_id).where(
            Customer.customer_id == Invoice.customer_id, owners
        )
        where.append(or_(WorklistItem.assignee == wanted.assignee, its_customer.exists()))
    return where


def record_action(
    session: Session,
    live: LiveFeatures,
    engine: Engine | None,
    invoice_id: str,
    action: dict[str, Any],
    day: date,
    request_id: str | None = None,
) -> tuple[str, str, str]:
    """Store an action as an activity or a dispute, move the item's status, re-decide it.

    A replay (same action id and content) changes nothing and decides nothing. Without an
    ``engine`` the item is left stale and decided by the next read.

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
    if outcome.result == "created":
        touch(session, invoice_id)
    session.commit()
    live.catch_up()
    if outcome.result == "created" and engine is not None and facts.paid_date is None:
        _redecide(session, engine, live, invoice_id, request_id)
    return outcome.result, status, "dispute" if table == "disputes" else "activity"


def _redecide(
    session: Session, engine: Engine, live: LiveFeatures, invoice_id: str, request_id: str | None
) -> None:
    try:
        decided = decide(engine, live, read_facts(session, invoice_id), today())
    except DecisionError:
        return
    log_decision(session, decided, request_id)
    session.commit()


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
