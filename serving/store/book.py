"""The service's copy of the AR book: idempotent ingest of the canonical tables.

An ingest either creates the record, finds the same content (``unchanged``), fills a
lifecycle field that was empty (``updated``: an invoice's ``paid_date``, a dispute's
``resolved_date`` and ``resolution``), or refuses with an ``IngestError`` that names the field:
an unknown referenced id (404), a known id with other content (409), or a rule that needs the
stored book (422: a payment or dispute dated before its invoice was issued, payments beyond
the invoice amount). A payment that completes its invoice sets the invoice's ``paid_date``.

``ingest_many`` handles a list of records of one table with a handful of queries (the bulk
endpoint and ``arbiter load``); records are applied in order, so a later one sees the
earlier ones, exactly as if each had been sent alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.store.events import events_for, publish
from serving.store.models import Activity, Base, Customer, Dispute, Invoice, Payment

PAYMENT_TOLERANCE = Decimal("0.005")
IN_CHUNK = 500
INSERT_RETRIES = 3


class IngestError(Exception):
    """An ingest refused; ``status_code`` is the HTTP status the API answers with."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownReference(IngestError):
    status_code = 404


class RuleViolation(IngestError):
    status_code = 422


class Conflict(IngestError):
    status_code = 409

    def __init__(self, message: str, differences: list[dict[str, Any]]) -> None:
        super().__init__(message, differences[0]["field"] if differences else None)
        self.differences = differences


@dataclass(frozen=True)
class Entity:
    """How one canonical table is ingested.

    Attributes:
        table: Table name (as in ``features.schema``).
        model: The store model.
        key: The id column.
        parents: (column, model) pairs whose ids must already be stored.
        lifecycle: Columns that may go once from empty to a value on a replay.
        dated: The record's date column checked against its invoice's issue date.
    """

    table: str
    model: type[Base]
    key: str
    parents: tuple[tuple[str, type[Base]], ...] = ()
    lifecycle: tuple[str, ...] = ()
    dated: str | None = None


ENTITIES: dict[str, Entity] = {
    "customers": Entity("customers", Customer, "customer_id"),
    "invoices": Entity(
        "invoices", Invoice, "invoice_id", (("customer_id", Customer),), ("paid_date",)
    ),
    "payments": Entity(
        "payments", Payment, "payment_id", (("invoice_id", Invoice),), dated="payment_date"
    ),
    "disputes": Entity(
        "disputes",
        Dispute,
        "dispute_id",
        (("invoice_id", Invoice),),
        ("resolved_date", "resolution"),
        dated="opened_date",
    ),
    "activities": Entity(
        "activities",
        Activity,
        "activity_id",
        (("customer_id", Customer), ("invoice_id", Invoice)),
    ),
}


@dataclass
class Outcome:
    """What happened to one record: ``result`` is created, unchanged, updated or rejected."""

    result: str
    key: Any
    error: IngestError | None = None
    filled: dict[str, Any] = field(default_factory=dict)
    settles: date | None = None


@dataclass
class InvoiceBalance:
    """An invoice as the payment rules need it: what is due and what was paid."""

    issue_date: date
    amount: Decimal
    paid_date: date | None
    paid: Decimal = Decimal("0.00")
    last_payment: date | None = None


@dataclass
class Batch:
    """What the store already holds that a list of records needs, kept current as they apply."""

    entity: Entity
    stored: dict[Any, Base] = field(default_factory=dict)
    created: dict[Any, dict[str, Any]] = field(default_factory=dict)
    known_parents: dict[str, set[str]] = field(default_factory=dict)
    invoices: dict[str, InvoiceBalance] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)]


def _distinct(rows: list[dict[str, Any]], column: str) -> list[Any]:
    return list({row[column] for row in rows if row.get(column) is not None})


def _read_batch(session: Session, entity: Entity, rows: list[dict[str, Any]]) -> Batch:
    batch = Batch(entity)
    key_column = getattr(entity.model, entity.key)
    for keys in _chunks(_distinct(rows, entity.key)):
        for record in session.scalars(select(entity.model).where(key_column.in_(keys))):
            batch.stored[getattr(record, entity.key)] = record
    for column, parent in entity.parents:
        parent_key = getattr(parent, column)
        known: set[str] = set()
        for ids in _chunks(_distinct(rows, column)):
            known.update(session.scalars(select(parent_key).where(parent_key.in_(ids))))
        batch.known_parents[column] = known
    if entity.dated is not None:
        _read_invoices(session, batch, _distinct(rows, "invoice_id"))
    return batch


def _read_invoices(session: Session, batch: Batch, invoice_ids: list[str]) -> None:
    locking = batch.entity.table == "payments"
    for ids in _chunks(invoice_ids):
        query = select(Invoice).where(Invoice.invoice_id.in_(ids)).order_by(Invoice.invoice_id)
        for invoice in session.scalars(query.with_for_update() if locking else query):
            batch.invoices[invoice.invoice_id] = InvoiceBalance(
                invoice.issue_date, invoice.amount, invoice.paid_date
            )
        if not locking:
            continue
        paid = select(
            Payment.invoice_id, func.sum(Payment.amount), func.max(Payment.payment_date)
        ).where(Payment.invoice_id.in_(ids))
        for invoice_id, total, last in session.execute(paid.group_by(Payment.invoice_id)):
            facts = batch.invoices[invoice_id]
            facts.paid, facts.last_payment = Decimal(total).quantize(Decimal("0.01")), last


def _check_rules(batch: Batch, values: dict[str, Any]) -> None:
    entity = batch.entity
    for column, _ in entity.parents:
        parent_id = values.get(column)
        if parent_id is not None and parent_id not in batch.known_parents[column]:
            raise UnknownReference(f"unknown {column} {parent_id!r}", column)
    if entity.dated is None:
        return
    invoice = batch.invoices[values["invoice_id"]]
    if values[entity.dated] < invoice.issue_date:
        raise RuleViolation(
            f"{entity.dated} is before the invoice's issue_date ({invoice.issue_date.isoformat()})",
            entity.dated,
        )
    if entity.table == "payments":
        total = invoice.paid + values["amount"]
        if total > invoice.amount + PAYMENT_TOLERANCE:
            raise RuleViolation(
                f"payments total {total} exceeds the invoice amount {invoice.amount}", "amount"
            )


def _apply_payment(batch: Batch, values: dict[str, Any]) -> date | None:
    invoice = batch.invoices[values["invoice_id"]]
    invoice.paid += values["amount"]
    day = values["payment_date"]
    invoice.last_payment = day if invoice.last_payment is None else max(invoice.last_payment, day)
    if invoice.paid_date is None and invoice.paid >= invoice.amount - PAYMENT_TOLERANCE:
        invoice.paid_date = invoice.last_payment
        batch.settled.add(values["invoice_id"])
        return invoice.paid_date
    return None


def _apply_one(batch: Batch, values: dict[str, Any]) -> Outcome:
    key = values[batch.entity.key]
    try:
        if key in batch.stored or key in batch.created:
            filled = _replay(batch, key, values)
            return Outcome("updated" if filled else "unchanged", key, filled=filled)
        _check_rules(batch, values)
    except IngestError as error:
        return Outcome("rejected", key, error)
    batch.created[key] = dict(values)
    settles = _apply_payment(batch, values) if batch.entity.table == "payments" else None
    return Outcome("created", key, settles=settles)


def _replay(batch: Batch, key: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The lifecycle fields the replay fills (empty when it changes nothing).

    Raises:
        Conflict: The replay differs from the stored record elsewhere.
    """
    entity = batch.entity
    record = batch.stored.get(key)
    stored = batch.created[key] if record is None else {c: getattr(record, c) for c in values}
    differences, fills = [], {}
    for column, received in values.items():
        before = stored.get(column)
        if _same(before, received) or (column in entity.lifecycle and received is None):
            continue
        if column in entity.lifecycle and before is None:
            fills[column] = received
            continue
        differences.append(
            {"field": column, "stored": _plain(before), "received": _plain(received)}
        )
    if differences:
        names = ", ".join(d["field"] for d in differences)
        raise Conflict(f"{entity.key} {key!r} is already stored with other {names}", differences)
    if record is None:
        batch.created[key].update(fills)
    else:
        for column, value in fills.items():
            setattr(record, column, value)
    return fills


def _write(session: Session, batch: Batch) -> None:
    now = datetime.now(UTC)
    if batch.created:
        rows = [{**values, "ingested_at": now} for values in batch.created.values()]
        session.execute(insert(batch.entity.model.__table__), rows)
    for invoice_id in sorted(batch.settled):
        session.execute(
            update(Invoice)
            .where(Invoice.invoice_id == invoice_id, Invoice.paid_date.is_(None))
            .values(paid_date=batch.invoices[invoice_id].paid_date)
        )
    session.flush()


def ingest_many(
    session: Session, table: str, rows: list[dict[str, Any]], log_events: bool = True
) -> list[Outcome]:
    """Store validated records of ``table`` idempotently, in order; the caller commits.

    Args:
        session: An open session; the writes happen in a savepoint, retried from a fresh
            read when a concurrent writer stored one of the same ids first.
        table: One of ``ENTITIES``.
        rows: Records as the table's ``...In`` schema dumps them.
        log_events: Append the records' online-feature events to the event log in the same
            transaction (a bulk load turns it off and logs one ``book_loaded`` marker).

    Returns:
        One outcome per record, in order; refused records carry their ``IngestError``.
    """
    for attempt in range(INSERT_RETRIES):
        batch = _read_batch(session, ENTITIES[table], rows)
        outcomes = [_apply_one(batch, values) for values in rows]
        try:
            with session.begin_nested():
                _write(session, batch)
                if log_events:
                    publish(session, _events(table, rows, outcomes))
            return outcomes
        except IntegrityError:
            if attempt == INSERT_RETRIES - 1:
                raise
            session.expire_all()
    raise AssertionError("unreachable")


def _events(table: str, rows: list[dict[str, Any]], outcomes: list[Outcome]) -> list[dict]:
    return [
        event
        for values, outcome in zip(rows, outcomes, strict=True)
        if outcome.error is None
        for event in events_for(table, values, outcome)
    ]


def ingest(session: Session, table: str, values: dict[str, Any]) -> tuple[Outcome, Base]:
    """Store one validated record; returns its outcome and the stored record.

    Raises:
        IngestError: Refused; see the module docstring.
    """
    (outcome,) = ingest_many(session, table, [values])
    if outcome.error is not None:
        raise outcome.error
    record = session.get(ENTITIES[table].model, outcome.key, populate_existing=True)
    assert record is not None
    return outcome, record


def _same(stored: object, received: object) -> bool:
    if isinstance(stored, Decimal) and isinstance(received, Decimal | int | float):
        return stored == Decimal(str(received))
    return stored == received


def _plain(value: object) -> object:
    """A value as JSON shows it: money as its exact text, dates as ISO days."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def get_record(session: Session, table: str, key: str) -> Base | None:
    """The stored record of ``table`` with id ``key``, or None."""
    return session.get(ENTITIES[table].model, key)
