"""Ingest schemas of the canonical tables (``features.schema``): one In and one Out each."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from features.schema import ACTIVITY_KINDS, DISPUTE_REASONS, DISPUTE_RESOLUTIONS, SEGMENTS
from serving.api.schemas.common import (
    BATCH_LIMIT,
    Amount,
    Currency,
    EntityId,
    FieldError,
    InputModel,
    LongText,
    NonNegativeAmount,
    OutputModel,
    ShortText,
    UtcDatetime,
)

Segment = Literal[SEGMENTS]  # type: ignore[valid-type]
DisputeReason = Literal[DISPUTE_REASONS]  # type: ignore[valid-type]
DisputeResolution = Literal[DISPUTE_RESOLUTIONS]  # type: ignore[valid-type]
ActivityKind = Literal[ACTIVITY_KINDS]  # type: ignore[valid-type]
IngestResult = Literal["created", "unchanged", "updated"]


def not_before(later: date | None, info: ValidationInfo, earlier_field: str) -> date | None:
    """``later`` unless it falls before the already validated ``earlier_field``."""
    earlier = info.data.get(earlier_field)
    if later is not None and earlier is not None and later < earlier:
        raise ValueError(f"{info.field_name} is before {earlier_field} ({earlier.isoformat()})")
    return later


class CustomerFields(BaseModel):
    customer_id: EntityId = Field(examples=["C-0001"])
    name: ShortText | None = Field(default=None, examples=["Acme GmbH"])
    segment: Segment | None = None
    industry: ShortText | None = None
    country: ShortText | None = Field(default=None, examples=["DE"])
    payment_terms_days: int | None = Field(default=None, ge=0, le=3650, examples=[30])
    credit_limit: NonNegativeAmount | None = None
    revenue_owner_id: EntityId | None = Field(default=None, examples=["AM-17"])
    collector_id: EntityId | None = Field(default=None, examples=["COL-3"])
    strategic: bool | None = None
    created_date: date | None = None


class CustomerIn(CustomerFields, InputModel):
    """A customer (account) as the ERP or CRM knows it."""


class CustomerOut(CustomerFields, OutputModel):
    ingested_at: UtcDatetime


class InvoiceFields(BaseModel):
    invoice_id: EntityId = Field(examples=["INV-1001"])
    customer_id: EntityId = Field(examples=["C-0001"])
    issue_date: date = Field(examples=["2025-03-01"])
    due_date: date = Field(examples=["2025-03-31"])
    amount: Amount
    currency: Currency
    order_id: EntityId | None = None
    paperless: bool | None = None
    paid_date: date | None = Field(default=None, description="Null while the invoice is open")


class InvoiceIn(InvoiceFields, InputModel):
    """An invoice; ``due_date`` and ``paid_date`` may not fall before ``issue_date``."""

    @field_validator("due_date", "paid_date")
    @classmethod
    def _after_issue(cls, value: date | None, info: ValidationInfo) -> date | None:
        return not_before(value, info, "issue_date")


class InvoiceOut(InvoiceFields, OutputModel):
    ingested_at: UtcDatetime


class PaymentFields(BaseModel):
    payment_id: EntityId = Field(examples=["PAY-1"])
    invoice_id: EntityId = Field(examples=["INV-1001"])
    payment_date: date = Field(examples=["2025-04-02"])
    amount: Amount = Field(description="In the invoice's currency; partial payments allowed")


class PaymentIn(PaymentFields, InputModel):
    """A payment on a known invoice; all payments together may not exceed its amount."""


class PaymentOut(PaymentFields, OutputModel):
    ingested_at: UtcDatetime


class DisputeFields(BaseModel):
    dispute_id: EntityId = Field(examples=["D-1"])
    invoice_id: EntityId = Field(examples=["INV-1001"])
    opened_date: date = Field(examples=["2025-03-10"])
    reason: DisputeReason
    amount: Amount = Field(description="Disputed amount, in the invoice's currency")
    resolved_date: date | None = None
    resolution: DisputeResolution | None = None


class DisputeIn(DisputeFields, InputModel):
    """A dispute on a known invoice; it may later be replayed with its resolution."""

    @field_validator("resolved_date")
    @classmethod
    def _after_opening(cls, value: date | None, info: ValidationInfo) -> date | None:
        return not_before(value, info, "opened_date")


class DisputeOut(DisputeFields, OutputModel):
    ingested_at: UtcDatetime


class ActivityFields(BaseModel):
    activity_id: EntityId = Field(examples=["A-1"])
    customer_id: EntityId = Field(examples=["C-0001"])
    invoice_id: EntityId | None = None
    order_id: EntityId | None = None
    date: dt.date = Field(examples=["2025-03-12"])
    kind: ActivityKind
    detail: LongText | None = None
    promised_date: dt.date | None = None


class ActivityIn(ActivityFields, InputModel):
    """Something that happened with a customer (support, delivery, contact, promise...)."""


class ActivityOut(ActivityFields, OutputModel):
    ingested_at: UtcDatetime


RecordT = TypeVar("RecordT", bound=BaseModel)


class Ingested(BaseModel, Generic[RecordT]):
    """What an ingest did: created the record, found it unchanged, or filled a lifecycle
    field (``paid_date``, ``resolved_date``, ``resolution``) that was empty."""

    result: IngestResult
    record: RecordT


class BulkIn(InputModel):
    """Up to ``BATCH_LIMIT`` items; each is validated and reported on its own."""

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=BATCH_LIMIT,
        description="Objects of this table's single-item schema",
    )


class BulkItemOut(BaseModel):
    """The outcome of one bulk item; ``status_code`` is what the single endpoint answers."""

    index: int = Field(ge=0)
    id: str | None = None
    result: Literal["created", "unchanged", "updated", "rejected"]
    status_code: int
    errors: list[FieldError] = Field(default_factory=list)


class BulkCounts(BaseModel):
    created: int = 0
    unchanged: int = 0
    updated: int = 0
    rejected: int = 0


class BulkOut(BaseModel):
    """Per-item results in request order; counts add up to the number of items."""

    counts: BulkCounts
    items: list[BulkItemOut]
