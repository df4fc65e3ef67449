"""Schemas of health, readiness and key management."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from serving.api.schemas.common import InputModel, OutputModel, ShortText, UtcDatetime

Role = Literal["service", "collector", "admin"]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """Whether the service can answer; each check is ``ok`` or says what is wrong."""

    ready: bool
    checks: dict[str, str] = Field(examples=[{"store": "ok", "models": "ok", "policy": "ok"}])


class KeyIn(InputModel):
    role: Role
    name: ShortText | None = Field(default=None, examples=["erp-prod"])


class KeyOut(OutputModel):
    """A key as listed: never its token or hash."""

    key_id: str
    role: Role
    name: str | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None


class KeyCreatedOut(KeyOut):
    """A new key; ``token`` is shown this once and cannot be recovered."""

    token: str = Field(examples=["arb_1a2b3c4d5e6f_..."])
