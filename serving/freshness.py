"""Keeps the stored decision of every open invoice fresh, so that a worklist read is one query.

An open invoice's worklist item is **stale** when it has no decision yet, when its decision
was made as of an earlier day, or when an event touched it after its decision was made
(``touched_at``: an action recorded on it, or a payment, dispute, activity or invoice ingested
for its customer). Stale items are re-decided as of today and logged once.

Everything this needs is kept in the store (``worklist_items.touched_at`` and the
``worklist_sync`` watermark), never in process memory, so several worker processes share it.
Events are found by their ``ingested_at`` since the watermark, minus ``OVERLAP``: a writer
that stamped its rows before the watermark moved but committed after is still seen. Before
deciding, a chunk's items are locked and their staleness read again, so two refreshers never
log the same decision twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, func, insert, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.decide import DecisionError, decide, log_decision, read_facts
from serving.engine import Engine
from serving.live import LiveFeatures
from serving.logging import get_logger
from serving.store.models import (
    Activity,
    Decision,
    Dispute,
    Invoice,
    Payment,
    WorklistItem,
    WorklistSync,
)

log = get_logger("worklist")
EVENTS = "events"
OVERLAP = timedelta(minutes=2)
CHUNK = 100
PROGRESS_EVERY = 2000
# One writer of worklist decisions at a time in this process: SQLite's busy wait is not fair,
# and a refresher that took the write lock chunk after chunk would starve every request.
WRITING = threading.Lock()


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive timestamps; every stored timestamp is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stale_condition(as_of: date):  # noqa: ANN201 - a SQL expression
    """True for an item whose decision is missing, of an earlier day, or older than an event.

    Needs ``WorklistItem`` outer-joined to ``Decision`` on ``decision_id``.
    """
    return or_(
        Decision.decision_id.is_(None),
        Decision.as_of < as_of,
        WorklistItem.touched_at > Decision.created_at,
    )


def stale_items(as_of: date) -> Select:
    """Invoice ids of open, decidable, stale items: unpaid, issued by ``as_of``."""
    return (
        select(WorklistItem.invoice_id)
        .join(Invoice, Invoice.invoice_id == WorklistItem.invoice_id)
        .outerjoin(Decision, Decision.decision_id == WorklistItem.decision_id)
        .where(Invoice.paid_date.is_(None), Invoice.issue_date <= as_of, stale_condition(as_of))
    )


def count_stale(session: Session, as_of: date) -> int:
    return session.scalar(select(func.count()).select_from(stale_items(as_of).subquery())) or 0


def _watermark(session: Session) -> datetime | None:
    return as_utc(
        session.scalar(select(WorklistSync.seen_until).where(WorklistSync.name == EVENTS))
    )


def _set_watermark(session: Session, moment: datetime) -> None:
    changed = session.execute(
        update(WorklistSync).where(WorklistSync.name == EVENTS).values(seen_until=moment)
    ).rowcount
    if changed:
        return
    try:
        with session.begin_nested():
            session.execute(insert(WorklistSync), [{"name": EVENTS, "seen_until": moment}])
    except IntegrityError:
        pass


def _add_missing_items(session: Session, since: datetime | None) -> int:
    """Give every open invoice ingested since ``since`` (all when None) a worklist item."""
    missing = select(Invoice.invoice_id).where(
        Invoice.paid_date.is_(None),
        ~select(WorklistItem.invoice_id)
        .where(WorklistItem.invoice_id == Invoice.invoice_id)
        .exists(),
    )
    if since is not None:
        missing = missing.where(Invoice.ingested_at > since)
    ids = list(session.scalars(missing))
    now = now_utc()
    for start in range(0, len(ids), 1000):
        rows = [
            {"invoice_id": i, "status": "open", "updated_at": now}
            for i in ids[start : start + 1000]
        ]
        session.execute(_insert_missing(session), rows)
    return len(ids)


def _insert_missing(session: Session):  # noqa: ANN202 - a dialect's INSERT
    """An INSERT of worklist items that skips invoices another writer gave an item first."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_insert(WorklistItem).on_conflict_do_nothing()
    return postgresql_insert(WorklistItem).on_conflict_do_nothing()


def _touched_customers(session: Session, since: datetime) -> dict[str, datetime]:
    """The latest ``ingested_at`` of each customer's events ingested after ``since``."""
    by_invoice = [
        select(Invoice.customer_id, model.ingested_at)
        .join(Invoice, Invoice.invoice_id == model.invoice_id)
        .where(model.ingested_at > since)
        for model in (Payment, Dispute)
    ]
    events = union_all(
        select(Activity.customer_id, Activity.ingested_at).where(Activity.ingested_at > since),
        select(Invoice.customer_id, Invoice.ingested_at).where(Invoice.ingested_at > since),
        *by_invoice,
    ).subquery()
    query = select(events.c.customer_id, func.max(events.c.ingested_at)).group_by(
        events.c.customer_id
    )
    return {customer: as_utc(moment) for customer, moment in session.execute(query)}


def _touch_customers(session: Session, touched: dict[str, datetime]) -> None:
    for customer_id, moment in touched.items():
        open_invoices = select(Invoice.invoice_id).where(
            Invoice.customer_id == customer_id, Invoice.paid_date.is_(None)
        )
        session.execute(
            update(WorklistItem)
            .where(
                WorklistItem.invoice_id.in_(open_invoices),
                or_(WorklistItem.touched_at.is_(None), WorklistItem.touched_at < moment),
            )
            .values(touched_at=moment)
        )


def sync_events(session: Session) -> None:
    """Add items for new open invoices and mark the ones events touched; commits.

    The first sync of a store adds an item for every open invoice.
    """
    started = now_utc()
    seen = _watermark(session)
    since = None if seen is None else seen - OVERLAP
    added = _add_missing_items(session, since)
    if since is not None:
        _touch_customers(session, _touched_customers(session, since))
    _set_watermark(session, started)
    session.commit()
    if added:
        log.info("worklist items added", extra={"invoices": added})


def touch(session: Session, invoice_id: str) -> None:
    """Mark one item stale now (an action was recorded on it); the caller commits."""
    session.execute(
        update(WorklistItem)
        .where(WorklistItem.invoice_id == invoice_id)
        .values(touched_at=now_utc())
    )


def _lock_stale(session: Session, ids: list[str], as_of: date) -> list[str]:
    """Lock the items of ``ids`` and return those still stale once the lock is held."""
    ids = sorted(ids)
    if session.get_bind().dialect.name == "sqlite":
        # The first write takes SQLite's write lock; the read after it sees every commit.
        session.execute(
            update(WorklistItem)
            .where(WorklistItem.invoice_id.in_(ids))
            .values(updated_at=WorklistItem.updated_at)
        )
    else:
        session.execute(
            select(WorklistItem.invoice_id)
            .where(WorklistItem.invoice_id.in_(ids))
            .order_by(WorklistItem.invoice_id)
            .with_for_update()
        )
    return list(session.scalars(stale_items(as_of).where(WorklistItem.invoice_id.in_(ids))))


@dataclass
class RefreshResult:
    """What one refresh did: decisions logged, items skipped (cannot be decided), seconds."""

    decided: int = 0
    skipped: int = 0
    seconds: float = 0.0


def decide_items(
    sessions: sessionmaker[Session],
    engine: Engine,
    live: LiveFeatures,
    ids: Iterable[str],
    as_of: date,
    request_id: str | None = None,
    stop: threading.Event | None = None,
    pause: float = 0.0,
) -> RefreshResult:
    """Re-decide the items of ``ids`` that are still stale, ``CHUNK`` per transaction.

    ``stop``, when set, ends the work between two chunks; ``pause`` seconds are left between
    chunks for other writers (the background refresh leaves some).
    """
    live.catch_up()  # what other processes stored since
    result, started = RefreshResult(), time.perf_counter()
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        if stop is not None and stop.is_set():
            break
        if start and pause:
            time.sleep(pause)
        with WRITING, sessions() as session:
            for invoice_id in _lock_stale(session, ids[start : start + CHUNK], as_of):
                try:
                    decided = decide(engine, live, read_facts(session, invoice_id), as_of)
                except DecisionError:
                    result.skipped += 1
                    continue
                log_decision(session, decided, request_id)
                result.decided += 1
            session.commit()
        done = start + CHUNK
        if len(ids) > PROGRESS_EVERY and done % PROGRESS_EVERY < CHUNK:
            log.info("worklist refresh", extra={"done": min(done, len(ids)), "of": len(ids)})
    result.seconds = time.perf_counter() - started
    return result


def refresh(
    sessions: sessionmaker[Session],
    engine: Engine,
    live: LiveFeatures,
    as_of: date,
    limit: int | None = None,
    where: Iterable = (),
    stop: threading.Event | None = None,
    pause: float = 0.0,
) -> RefreshResult:
    """Sync events, then re-decide stale items (those matching ``where``; at most ``limit``).

    Args:
        sessions: Session factory of the store.
        engine: Models and policy in use.
        live: The online features.
        as_of: The day decided for (today).
        limit: Most items re-decided, highest stored amount at risk first; None for all.
        where: Extra conditions over ``WorklistItem``, ``Invoice`` and ``Decision``.
        stop: When set, ends the work between two chunks.
        pause: Seconds left between chunks for other writers.
    """
    with WRITING, sessions() as session:
        sync_events(session)
        query = stale_items(as_of)
        for condition in where:
            query = query.where(condition)
        query = query.order_by(
            WorklistItem.amount_at_risk.desc().nulls_last(), WorklistItem.invoice_id
        )
        ids = list(session.scalars(query if limit is None else query.limit(limit)))
    if not ids:
        return RefreshResult()
    if len(ids) > PROGRESS_EVERY:
        log.info("worklist refresh started", extra={"stale": len(ids), "as_of": str(as_of)})
    result = decide_items(sessions, engine, live, ids, as_of, stop=stop, pause=pause)
    if len(ids) > PROGRESS_EVERY:
        log.info(
            "worklist refresh done",
            extra={"decided": result.decided, "skipped": result.skipped, "s": result.seconds},
        )
    return result
