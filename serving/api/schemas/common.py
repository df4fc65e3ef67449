"""Field types and error bodies shared by every schema."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from features.schema import CURRENCIES

# No control characters in identifiers or short text (PostgreSQL refuses NUL in text).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"
BATCH_LIMIT = 1000


def _known_currency(code: str) -> str:
    code = code.upper()
    if code not in CURRENCIES:
        raise ValueError(f"unknown ISO 4217 currency code {code!r}")
    return code


def _as_utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone; every stored timestamp is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
EntityId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=PRINTABLE),
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
LongText = Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)]
Currency = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_known_currency),
    Field(description="ISO 4217 code, e.g. EUR", examples=["EUR"]),
]
Amount = Annotated[
    Decimal,
    Field(
        gt=0,
        max_digits=18,
        decimal_places=2,
        description="Money, greater than zero, at most 2 decimals; returned as a string",
        examples=["1250.00"],
    ),
]
NonNegativeAmount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    """Response bodies, built from store rows."""

    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """An error a client caused (401, 403, 404, 413), with the field it concerns if any."""

    detail: str = Field(examples=["unknown invoice_id 'INV-9'"])
    field: str | None = Field(default=None, examples=["invoice_id"])


class Difference(BaseModel):
    """One field on which a replay differs from what is stored."""

    field: str
    stored: Any
    received: Any


class ConflictOut(BaseModel):
    """409: the id is known with other content; nothing was changed."""

    detail: str
    differences: list[Difference]


class FieldError(BaseModel):
    """One problem with one field of a bulk item."""

    field: str = Field(examples=["amount"])
    message: str = Field(examples=["Input should be greater than 0"])


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body could not be read (not UTF-8 JSON)"},
    401: {"model": ErrorOut, "description": "No valid API key"},
    403: {"model": ErrorOut, "description": "The key's role may not do this"},
    413: {"model": ErrorOut, "description": "Request body too large"},
}
