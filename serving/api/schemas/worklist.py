"""Schemas of the worklist and of the actions recorded on it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from serving.api.schemas.common import EntityId, InputModel, LongText
from serving.api.schemas.decisions import DecisionOut

WorkStatus = Literal["open", "contacted", "promised", "disputed", "escalated", "resolved"]
ActionKind = Literal["contacted", "promise_to_pay", "dispute_logged", "escalated", "resolved"]


class WorklistItemOut(BaseModel):
    invoice_id: str
    customer_id: str
    status: WorkStatus
    last_action: str | None
    decision: DecisionOut


class WorklistOut(BaseModel):
    """A page of the worklist, ranked by expected amount at risk (largest first)."""

    as_of: dt.date = Field(description="The day every listed decision was made for")
    total: int = Field(ge=0, description="Items matching the filters, over all pages")
    offset: int = Field(ge=0, description="Items skipped before this page")
    pending: int = Field(
        ge=0,
        description="Open items waiting to be re-decided by the background refresh "
        "(their stored decision is older than today or than an event on them)",
    )
    items: list[WorklistItemOut]


class ActionIn(InputModel):
    """What someone did about an invoice; it becomes an activity (or a dispute)."""

    action_id: EntityId = Field(examples=["ACT-1"], description="Client id; replays are no-ops")
    action: ActionKind
    date: dt.date | None = Field(default=None, description="Default: today, UTC")
    promised_date: dt.date | None = None
    reason: Literal["pricing", "delivery", "quality", "billing_error", "admin", "other"] | None = (
        None
    )
    detail: LongText | None = None

    @model_validator(mode="after")
    def _required_details(self) -> ActionIn:
        if self.action == "promise_to_pay" and self.promised_date is None:
            raise ValueError("promise_to_pay needs promised_date")
        if self.action == "dispute_logged" and self.reason is None:
            raise ValueError("dispute_logged needs reason")
        return self


class ActionOut(BaseModel):
    invoice_id: str
    action_id: str
    result: Literal["created", "unchanged"]
    status: WorkStatus
    recorded_as: Literal["activity", "dispute"]
