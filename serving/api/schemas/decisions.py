"""Schemas of decisions (DESIGN §5), the audit record, versions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from serving.api.schemas.book import InvoiceIn
from serving.api.schemas.common import BATCH_LIMIT, EntityId, InputModel, UtcDatetime

Owner = Literal["finance", "revenue_owner", "joint", "none"]
Tier = Literal["P1", "P2", "P3", "P4"]


class DecisionIn(InputModel):
    """Decide a stored invoice (``invoice_id``) or a new one (``invoice``, ingested first)."""

    invoice_id: EntityId | None = Field(default=None, examples=["INV-1001"])
    invoice: InvoiceIn | None = None
    as_of: dt.date | None = Field(
        default=None, description="Decide as of this day (default: today, UTC)"
    )

    @model_validator(mode="after")
    def _one_invoice(self) -> DecisionIn:
        if (self.invoice_id is None) == (self.invoice is None):
            raise ValueError("give exactly one of invoice_id (stored) or invoice (new)")
        return self


class DecisionBatchItemIn(InputModel):
    invoice_id: EntityId
    as_of: dt.date | None = None


class DecisionBatchIn(InputModel):
    items: list[DecisionBatchItemIn] = Field(min_length=1, max_length=BATCH_LIMIT)


class Scores(BaseModel):
    p_late: float | None = Field(ge=0, le=1)
    p_dispute: float | None = Field(ge=0, le=1)
    pay_date_p10: dt.date | None
    pay_date_p50: dt.date | None
    pay_date_p90: dt.date | None


class Priority(BaseModel):
    amount_at_risk: Decimal = Field(description="amount x risk, in the invoice's currency")
    currency: str
    risk: float
    tier: Tier


class ReasonOut(BaseModel):
    code: str
    text: str
    source: Literal["model", "rule"]
    weight: float


class TraceOut(BaseModel):
    table: str
    row: str
    line: int


class Versions(BaseModel):
    models: dict[str, str] = Field(examples=[{"late": "3", "dispute": "2", "days_to_pay": "2"}])
    policy: str = Field(examples=["sha256:0123456789abcdef"])


class DecisionOut(BaseModel):
    """Who should act on the invoice, and why."""

    decision_id: str
    invoice_id: str
    customer_id: str
    as_of: dt.date
    scores: Scores
    owner: Owner
    assignee: str | None
    co_assignee: str | None
    action: str
    priority: Priority
    reasons: list[ReasonOut]
    trace: list[TraceOut]
    versions: Versions
    created_at: UtcDatetime


class DecisionRecordOut(BaseModel):
    """The audit record: the decision, the exact inputs, and who asked."""

    decision: DecisionOut
    features: dict[str, float | None]
    request_id: str | None


class DecisionBatchItemOut(BaseModel):
    index: int
    invoice_id: str
    status_code: int
    decision: DecisionOut | None = None
    error: str | None = None


class DecisionBatchOut(BaseModel):
    decided: int
    rejected: int
    items: list[DecisionBatchItemOut]


class ModelsOut(BaseModel):
    versions: dict[str, str]
    feature_names: list[str]
    source: str
    challenger: dict[str, str] | None
    loaded_at: UtcDatetime


class PolicyOut(BaseModel):
    name: str
    version: str
    source: str
    challenger: str | None


class ReloadOut(BaseModel):
    models: dict[str, str]
    policy: str
    loaded_at: UtcDatetime
