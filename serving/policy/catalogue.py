"""The field catalogue: every name a policy condition may use, with its type.

A policy file is validated against a catalogue at load. The default catalogue holds the scores,
the invoice and relationship facts and the assignment fields, plus every feature declared in
``features.registry`` when that module is importable.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from features.schema import DISPUTE_REASONS, SEGMENTS

FieldKind = Literal["number", "bool", "category", "text"]


@dataclass(frozen=True)
class Field:
    """One input the engine evaluates.

    Attributes:
        name: Input name, as written in conditions and as the key of the engine's inputs.
        kind: ``number`` (float or int; null is NaN or None), ``bool``, ``category`` (one of
            ``choices`` or null) or ``text`` (free text such as an id or a currency code).
        choices: Allowed values of a ``category`` field.
        nullable: Whether null is a valid value; a null in a non-nullable field is an input
            error, never a silent default.
        description: What the field means, for documentation and error messages.
        bounds: Closed range ``(low, high)`` a numeric value must lie in, if any.
    """

    name: str
    kind: FieldKind
    choices: tuple[str, ...] = ()
    nullable: bool = True
    description: str = ""
    bounds: tuple[float, float] | None = None


Catalogue = Mapping[str, Field]

SCORE_FIELDS: tuple[Field, ...] = (
    Field("p_late", "number", nullable=False, description="P(late payment)", bounds=(0.0, 1.0)),
    Field("p_dispute", "number", nullable=False, description="P(dispute)", bounds=(0.0, 1.0)),
    Field("days_p50", "number", description="expected days from issue to payment (median)"),
    Field("days_p10", "number", description="days from issue to payment, 10th percentile"),
    Field("days_p90", "number", description="days from issue to payment, 90th percentile"),
)

FACT_FIELDS: tuple[Field, ...] = (
    Field("amount", "number", nullable=False, description="invoice amount, invoice currency"),
    Field("currency", "text", description="ISO 4217 currency code of the invoice"),
    Field("days_past_due", "number", description="days past due; negative = days to due"),
    Field("cust_segment", "category", SEGMENTS, description="customer segment"),
    Field("cust_strategic", "bool", description="customer is a strategic account"),
    Field("cust_legal_hold", "bool", description="customer is on legal hold"),
    Field("cust_insolvent", "bool", description="customer is insolvent"),
    Field("inv_dispute_open", "bool", description="a dispute is open on this invoice"),
    Field("inv_dispute_reason", "category", DISPUTE_REASONS, description="open dispute reason"),
    Field(
        "cust_dispute_top_reason",
        "category",
        DISPUTE_REASONS,
        description="customer's most frequent dispute reason",
    ),
    Field("rel_open_tickets", "number", description="open support tickets of the customer"),
    Field("rel_order_delivery_problem", "bool", description="delivery problem on the order"),
    Field("rel_order_quality_problem", "bool", description="quality problem on the order"),
    Field("rel_pricing_discrepancy_90d", "bool", description="pricing discrepancy, 90 days"),
    Field("rel_broken_promises_90d", "number", description="broken promises to pay, 90 days"),
)

ASSIGNMENT_FIELDS: tuple[Field, ...] = (
    Field("collector_id", "text", description="the customer's collector in finance"),
    Field("revenue_owner_id", "text", description="the customer's revenue owner"),
)

FIXED_FIELDS: tuple[Field, ...] = SCORE_FIELDS + FACT_FIELDS + ASSIGNMENT_FIELDS


def build_catalogue(fields: Iterable[Field]) -> dict[str, Field]:
    """Index fields by name; a name declared twice is an error."""
    catalogue: dict[str, Field] = {}
    for item in fields:
        if item.name in catalogue:
            raise ValueError(f"field {item.name!r} is declared twice in the catalogue")
        catalogue[item.name] = item
    return catalogue


def field_from_spec(spec: object) -> Field:
    """Turn a feature spec (``features.registry.FeatureSpec``) into a catalogue field.

    The spec's ``dtype`` decides the type: ``bool``, ``category`` (with its ``choices``; the
    engine receives category labels, decoded from feature codes by the caller); any other
    feature is numeric, as the offline feature frame is.
    """
    name = str(spec.name)  # type: ignore[attr-defined]
    kind = str(getattr(spec, "dtype", "float"))
    choices = tuple(getattr(spec, "choices", ()) or ())
    description = str(getattr(spec, "description", "") or "")
    if kind == "bool":
        return Field(name, "bool", description=description)
    if kind == "category" and choices:
        return Field(name, "category", choices, description=description)
    return Field(name, "number", description=description)


def registry_fields() -> list[Field]:
    """Fields for every feature of ``features.registry.REGISTRY``; empty if not importable."""
    try:
        registry = importlib.import_module("features.registry").REGISTRY
    except (ImportError, AttributeError):
        return []
    specs = registry.values() if isinstance(registry, Mapping) else registry
    return [field_from_spec(spec) for spec in specs]


def default_catalogue() -> dict[str, Field]:
    """The fixed fields plus every registry feature whose name they do not already declare."""
    fixed = build_catalogue(FIXED_FIELDS)
    extra = [f for f in registry_fields() if f.name not in fixed]
    return build_catalogue([*FIXED_FIELDS, *extra])
