"""Tables of the store, as SQLAlchemy 2 declarative models.

Money is ``Numeric(18, 2)`` next to its currency (a payment or dispute is in its invoice's
currency); nothing in the audit trail is a float. Dates are calendar days; timestamps are UTC.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Money = Numeric(18, 2, asdecimal=True)
ID_LENGTH = 64

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id(*args: object, **kwargs: object) -> Mapped[str]:
    return mapped_column(String(ID_LENGTH), *args, **kwargs)


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = _id(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    revenue_owner_id: Mapped[str | None] = _id()
    collector_id: Mapped[str | None] = _id()
    strategic: Mapped[bool | None] = mapped_column(Boolean)
    created_date: Mapped[date | None] = mapped_column(Date)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Invoice(Base):
    __tablename__ = "invoices"

    invoice_id: Mapped[str] = _id(primary_key=True)
    customer_id: Mapped[str] = _id(ForeignKey("customers.customer_id"), index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[str | None] = _id()
    paperless: Mapped[bool | None] = mapped_column(Boolean)
    paid_date: Mapped[date | None] = mapped_column(Date)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    __tablename__ = "payments"

    payment_id: Mapped[str] = _id(primary_key=True)
    invoice_id: Mapped[str] = _id(ForeignKey("invoices.invoice_id"), index=True)
    payment_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Dispute(Base):
    __tablename__ = "disputes"

    dispute_id: Mapped[str] = _id(primary_key=True)
    invoice_id: Mapped[str] = _id(ForeignKey("invoices.invoice_id"), index=True)
    opened_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    resolved_date: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(String(20))
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    __tablename__ = "activities"

    activity_id: Mapped[str] = _id(primary_key=True)
    customer_id: Mapped[str] = _id(ForeignKey("customers.customer_id"), index=True)
    invoice_id: Mapped[str | None] = _id(ForeignKey("invoices.invoice_id"), index=True)
    order_id: Mapped[str | None] = _id()
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    promised_date: Mapped[dt.date | None] = mapped_column(Date)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """The append-only audit log: one row per decision, champion or shadow, never updated."""

    __tablename__ = "decisions"

    decision_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    invoice_id: Mapped[str] = _id(index=True)
    customer_id: Mapped[str] = _id()
    as_of: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(12))
    champion_decision_id: Mapped[str | None] = mapped_column(String(36), index=True)
    owner: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = _id()
    action: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(2))
    amount_at_risk: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    model_versions: Mapped[dict] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(80))
    decision: Mapped[dict] = mapped_column(JSON)
    features: Mapped[dict] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeatureEvent(Base):
    """An online-feature event, logged in the transaction that stored its facts
    (``serving.events``): every service process replays the log to stay current."""

    __tablename__ = "feature_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    payload: Mapped[dict] = mapped_column(JSON)


class WorklistItem(Base):
    """Where each invoice stands in the worklist: its latest decision and what people did."""

    __tablename__ = "worklist_items"
    __table_args__ = (Index("ix_worklist_owner_status", "owner", "status"),)

    invoice_id: Mapped[str] = _id(ForeignKey("invoices.invoice_id"), primary_key=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    owner: Mapped[str | None] = mapped_column(String(20))
    assignee: Mapped[str | None] = _id(index=True)
    tier: Mapped[str | None] = mapped_column(String(2))
    action: Mapped[str | None] = mapped_column(String(40))
    amount_at_risk: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20))
    last_action: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    touched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When an event (an action, a payment, a dispute, an activity, an invoice of the customer)
    last changed what the decision knows; the item is stale while its decision is older."""


class WorklistSync(Base):
    """How far the worklist has looked at ingested events: one row per watermark ``name``.

    Kept in the store, not in a process, so that every worker process shares it.
    """

    __tablename__ = "worklist_sync"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    seen_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An API key: only the SHA-256 of the token is kept; the token is shown once."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The worklist finds events ingested since its watermark with these.
for _model in (Invoice, Payment, Dispute, Activity):
    Index(f"ix_{_model.__tablename__}_ingested_at", _model.ingested_at)
