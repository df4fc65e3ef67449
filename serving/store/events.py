"""The online-feature events of what an ingest stored, and their log.

``events_for`` says which events a stored record means for the online features (an invoice
issued, a payment, an invoice settled, a dispute opened or resolved, an activity). ``ingest``
appends them to ``feature_events`` in the transaction that stores the record (``publish``), so
an event is in the log exactly when its facts are committed; every service process replays
the log (``serving.events.EventTail``). Three markers travel the same log: ``book_loaded``
(rows were written in bulk without events: rebuild from the store), ``engine_reload``, and
``events_pruned`` (old events were deleted: a process that had not read them rebuilds).

Log order is commit order. SQLite has one writer at a time; on PostgreSQL a publishing
transaction takes a transaction-scoped advisory lock before its events are numbered, so a
later number is never committed before an earlier one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from serving.store.models import FeatureEvent

if TYPE_CHECKING:
    from serving.store.book import Outcome

FACTS = "facts"  # event key for what decisions need beyond the features (not a feature input)
BOOK_LOADED = "book_loaded"
ENGINE_RELOAD = "engine_reload"
EVENTS_PRUNED = "events_pruned"
PUBLISH_LOCK = 72_151_001  # advisory lock key of publishers on PostgreSQL
DATE_FIELDS = ("date", "due_date", "promised_date", "created_date")


def _decimal(value: Decimal | float | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def events_for(table: str, values: dict[str, Any], outcome: Outcome) -> list[dict[str, Any]]:
    """The online-feature events of one ingested record (none for an unchanged replay)."""
    if outcome.result == "created":
        return _created_events(table, values, outcome)
    if outcome.result != "updated":
        return []
    if table == "invoices" and "paid_date" in outcome.filled:
        return [_paid(values["invoice_id"], outcome.filled["paid_date"])]
    if table == "disputes" and "resolved_date" in outcome.filled:
        day = outcome.filled["resolved_date"]
        return [{"kind": "dispute_resolved", "dispute_id": values["dispute_id"], "date": day}]
    return []


def _paid(invoice_id: str, day: dt.date) -> dict[str, Any]:
    return {"kind": "invoice_paid", "invoice_id": invoice_id, "date": day}


def _created_events(table: str, v: dict[str, Any], outcome: Outcome) -> list[dict[str, Any]]:
    if table == "customers":
        return [
            {
                "kind": "customer_upsert",
                "customer_id": v["customer_id"],
                "segment": v.get("segment"),
                "strategic": v.get("strategic"),
                "credit_limit": _money(v.get("credit_limit")),
                "created_date": v.get("created_date"),
                FACTS: {
                    "collector_id": v.get("collector_id"),
                    "revenue_owner_id": v.get("revenue_owner_id"),
                },
            }
        ]
    if table == "invoices":
        issued = {
            "kind": "invoice_issued",
            "invoice_id": v["invoice_id"],
            "customer_id": v["customer_id"],
            "date": v["issue_date"],
            "due_date": v["due_date"],
            "amount": float(v["amount"]),
            "order_id": v.get("order_id"),
            "paperless": v.get("paperless"),
            FACTS: {"amount": _decimal(v["amount"]), "currency": v["currency"]},
        }
        paid = [_paid(v["invoice_id"], v["paid_date"])] if v.get("paid_date") else []
        return [issued, *paid]
    if table == "payments":
        payment = {
            "kind": "payment",
            "payment_id": v["payment_id"],
            "invoice_id": v["invoice_id"],
            "date": v["payment_date"],
            "amount": float(v["amount"]),
        }
        settled = [_paid(v["invoice_id"], outcome.settles)] if outcome.settles else []
        return [payment, *settled]
    if table == "disputes":
        opened = {
            "kind": "dispute_opened",
            "dispute_id": v["dispute_id"],
            "invoice_id": v["invoice_id"],
            "date": v["opened_date"],
            "reason": v["reason"],
        }
        resolved = (
            [
                {
                    "kind": "dispute_resolved",
                    "dispute_id": v["dispute_id"],
                    "date": v["resolved_date"],
                }
            ]
            if v.get("resolved_date")
            else []
        )
        return [opened, *resolved]
    return [
        {
            "kind": "activity",
            "activity_id": v["activity_id"],
            "customer_id": v["customer_id"],
            "date": v["date"],
            "activity": v["kind"],
            "invoice_id": v.get("invoice_id"),
            "order_id": v.get("order_id"),
            "promised_date": v.get("promised_date"),
        }
    ]


def encode(event: dict[str, Any]) -> dict[str, Any]:
    """The event as JSON-ready values (dates as ISO strings, money as decimal strings)."""
    return {key: _plain(value) for key, value in event.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return encode(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode(payload: dict[str, Any]) -> dict[str, Any]:
    """An event as ``encode`` received it."""
    event = dict(payload)
    for key in DATE_FIELDS:
        if isinstance(event.get(key), str):
            event[key] = dt.date.fromisoformat(event[key])
    facts = event.get(FACTS)
    if facts is not None and "amount" in facts:
        event[FACTS] = {**facts, "amount": Decimal(facts["amount"])}
    return event


def _serialize_publishers(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK})


def publish(session: Session, events: Iterable[dict[str, Any]]) -> None:
    """Append ``events`` to the log in the caller's transaction (nothing if there are none)."""
    rows = [{"payload": encode(event)} for event in events]
    if rows:
        _serialize_publishers(session)
        session.execute(insert(FeatureEvent.__table__), rows)


def publish_marker(session: Session, kind: str, **fields: int) -> int:
    """Append a marker (``book_loaded``, ``engine_reload``, ``events_pruned``) with
    ``fields``; returns its number."""
    _serialize_publishers(session)
    payload = {"kind": kind, **fields}
    statement = insert(FeatureEvent).values(payload=payload).returning(FeatureEvent.seq)
    return int(session.execute(statement).scalar_one())


def prune_events(session: Session, keep: int) -> int:
    """Delete all but the newest ``keep`` events in the caller's transaction; returns how many.

    A running process reads the log before every answer, so it is rarely more than a few
    events behind; one that is behind the deleted events (idle for long) finds the
    ``events_pruned`` marker logged here, naming the newest deleted event, and rebuilds from
    the store instead of replaying. The newest event is never deleted, so numbers only grow.
    Nothing is deleted until at least a tenth of ``keep`` more than ``keep`` is logged.
    """
    _serialize_publishers(session)
    oldest, newest = session.execute(
        select(func.min(FeatureEvent.seq), func.max(FeatureEvent.seq))
    ).one()
    through = (newest or 0) - max(keep, 1)
    if oldest is None or through - oldest < keep // 10:
        return 0  # too little to delete: not worth a marker that makes laggards rebuild
    deleted = session.execute(delete(FeatureEvent).where(FeatureEvent.seq <= through)).rowcount
    if deleted:
        publish_marker(session, EVENTS_PRUNED, through=through)
    return int(deleted)
