"""One decision: online features from the store, every model, the policy, reasons, audit write.

``decide`` computes; ``log_decision`` appends it to the audit log and points the invoice's
worklist item at it, in the caller's transaction. A shadow challenger (models or policy) is
decided on the same features and logged beside the champion, never returned.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from serving.bundle import ModelBundle
from serving.engine import Engine
from serving.ids import new_uuid
from serving.live import INVOICE_FACT_COLUMNS, InvoiceFacts, LiveFeatures
from serving.policy.engine import Policy
from serving.policy.reasons import model_reasons
from serving.store.models import Customer, Decision, Invoice, WorklistItem

CENT = Decimal("0.01")
REASON_TARGETS = ("late", "dispute")


class DecisionError(Exception):
    """An invoice cannot be decided as asked; ``status_code`` is the HTTP answer."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Decided:
    """A computed decision: the API body, the model inputs, and the shadow bodies."""

    body: dict[str, Any]
    features: dict[str, float | None]
    shadows: list[dict[str, Any]]


def read_facts(session: Session, invoice_id: str) -> InvoiceFacts:
    """The stored invoice and its customer's assignment.

    Raises:
        DecisionError: 404 for an unknown invoice.
    """
    row = session.execute(
        select(*INVOICE_FACT_COLUMNS, Customer.collector_id, Customer.revenue_owner_id)
        .join(Customer, Customer.customer_id == Invoice.customer_id)
        .where(Invoice.invoice_id == invoice_id)
    ).first()
    if row is None:
        raise DecisionError(f"unknown invoice_id {invoice_id!r}", 404)
    return InvoiceFacts(*row)


def known_facts(live: LiveFeatures, invoice_id: str) -> InvoiceFacts:
    """The invoice's facts from the service's memory (no database read).

    Raises:
        DecisionError: 404 for an unknown invoice.
    """
    facts = live.facts(invoice_id)
    if facts is None:
        raise DecisionError(f"unknown invoice_id {invoice_id!r}", 404)
    return facts


def today() -> date:
    return datetime.now(UTC).date()


def decide(engine: Engine, live: LiveFeatures, facts: InvoiceFacts, as_of: date) -> Decided:
    """Decide one stored invoice as of ``as_of`` with the champion (and shadows).

    Raises:
        DecisionError: 422 when ``as_of`` falls before the invoice's issue date.
    """
    if as_of < facts.issue_date:
        raise DecisionError(
            f"as_of {as_of.isoformat()} is before the invoice's issue_date "
            f"({facts.issue_date.isoformat()})",
            422,
        )
    if not live.knows(facts.invoice_id):
        raise DecisionError(f"invoice {facts.invoice_id!r} is still being ingested; retry", 409)
    values = live.values(facts.invoice_id, as_of)
    created_at = datetime.now(UTC)
    body = _decide_with(engine, engine.bundle, engine.policy, values, facts, as_of, created_at)
    shadows = []
    if engine.has_shadow:
        bundle = engine.challenger_bundle or engine.bundle
        policy = engine.challenger_policy or engine.policy
        shadows.append(_decide_with(engine, bundle, policy, values, facts, as_of, created_at))
    features = {n: _json_number(values[n]) for n in engine.bundle.feature_names}
    return Decided(body, features, shadows)


def _decide_with(
    engine: Engine,
    bundle: ModelBundle,
    policy: Policy,
    values: dict[str, float],
    facts: InvoiceFacts,
    as_of: date,
    created_at: datetime,
) -> dict[str, Any]:
    x = LiveFeatures.vector(values, bundle.feature_names)
    scores = bundle.score_row(x)
    explained = [t for t in REASON_TARGETS if t in bundle.targets]
    contributions = bundle.fast().contributions(x, explained)
    reasons = model_reasons(values, contributions, bundle.feature_names, engine.specs)
    inputs = _policy_inputs(engine, values, scores, facts)
    decision = policy.decide(inputs, reasons)
    at_risk = Decimal(repr(decision.amount_at_risk)).quantize(CENT, ROUND_HALF_UP)
    return {
        "decision_id": str(new_uuid()),
        "invoice_id": facts.invoice_id,
        "customer_id": facts.customer_id,
        "as_of": as_of,
        "scores": {
            "p_late": scores.get("p_late"),
            "p_dispute": scores.get("p_dispute"),
            **{
                f"pay_date_{q}": _pay_date(facts.issue_date, scores.get(f"days_{q}"))
                for q in ("p10", "p50", "p90")
            },
        },
        "owner": decision.owner,
        "assignee": decision.assignee,
        "co_assignee": decision.co_assignee,
        "action": decision.action,
        "priority": {
            "amount_at_risk": at_risk,
            "currency": facts.currency,
            "risk": float(decision.risk),
            "tier": decision.tier,
        },
        "reasons": [
            {"code": r.code, "text": r.text, "source": r.source, "weight": float(r.weight)}
            for r in decision.reasons
        ],
        "trace": [{"table": t.table, "row": t.row, "line": t.line} for t in decision.trace],
        "versions": {"models": dict(bundle.versions), "policy": decision.policy_version},
        "created_at": created_at,
    }


def _policy_inputs(
    engine: Engine, values: dict[str, float], scores: dict[str, float], facts: InvoiceFacts
) -> dict[str, object]:
    inputs: dict[str, object] = {}
    for name in engine.policy.catalogue:
        spec = engine.specs.get(name)
        if spec is None or name not in values:
            continue
        value = values[name]
        if spec.dtype == "category":
            inputs[name] = None if math.isnan(value) else spec.choices[int(value)]
        else:
            inputs[name] = value
    inputs.update(scores)
    inputs.update(
        amount=float(facts.amount),
        currency=facts.currency,
        collector_id=facts.collector_id,
        revenue_owner_id=facts.revenue_owner_id,
    )
    return inputs


def _pay_date(issue_date: date, days: float | None) -> date | None:
    if days is None or math.isnan(days):
        return None
    return issue_date + timedelta(days=round(days))


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def log_decision(session: Session, decided: Decided, request_id: str | None) -> None:
    """Append the decision (and its shadows) to the audit log and update the worklist item."""
    log_decisions(session, [(decided, request_id)])


def log_decisions(session: Session, logged: list[tuple[Decided, str | None]]) -> None:
    """Append decisions (and shadows) to the audit log and point each invoice's worklist item
    at its latest one, in the caller's transaction, with one statement per table."""
    rows = []
    for decided, request_id in logged:
        body = decided.body
        rows.append(_log_row(body, "champion", None, decided.features, request_id))
        rows += [
            _log_row(s, "challenger", body["decision_id"], decided.features, request_id)
            for s in decided.shadows
        ]
    session.execute(insert(Decision.__table__), rows)
    latest = {decided.body["invoice_id"]: decided.body for decided, _ in logged}
    _point_worklist(session, list(latest.values()))


def _log_row(
    body: dict[str, Any],
    role: str,
    champion_id: str | None,
    features: dict[str, float | None],
    request_id: str | None,
) -> dict[str, Any]:
    priority = body["priority"]
    return {
        "decision_id": body["decision_id"],
        "invoice_id": body["invoice_id"],
        "customer_id": body["customer_id"],
        "as_of": body["as_of"],
        "role": role,
        "champion_decision_id": champion_id,
        "owner": body["owner"],
        "assignee": body["assignee"],
        "action": body["action"],
        "tier": priority["tier"],
        "amount_at_risk": priority["amount_at_risk"],
        "currency": priority["currency"],
        "model_versions": body["versions"]["models"],
        "policy_version": body["versions"]["policy"],
        "decision": _jsonable(body),
        "features": features,
        "request_id": request_id,
        "created_at": body["created_at"],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


DECIDED_COLUMNS = (
    "decision_id",
    "owner",
    "assignee",
    "tier",
    "action",
    "amount_at_risk",
    "updated_at",
)


def _point_worklist(session: Session, bodies: list[dict[str, Any]]) -> None:
    """Insert or update the worklist item of each decided invoice (status kept if it exists)."""
    rows = [
        {
            "invoice_id": body["invoice_id"],
            "decision_id": body["decision_id"],
            "owner": body["owner"],
            "assignee": body["assignee"],
            "tier": body["priority"]["tier"],
            "action": body["action"],
            "amount_at_risk": body["priority"]["amount_at_risk"],
            "updated_at": body["created_at"],
            "status": "open",
        }
        for body in bodies
    ]
    session.execute(worklist_upsert(session.get_bind().dialect.name), rows)


@functools.cache
def worklist_upsert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (invoice_id) DO UPDATE of the decision columns (built once)."""
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(
        WorklistItem.__table__
    )
    return upsert.on_conflict_do_update(
        index_elements=["invoice_id"],
        set_={c: upsert.excluded[c] for c in DECIDED_COLUMNS},
    )


def read_decision(session: Session, decision_id: str) -> Decision | None:
    """A champion decision of the audit log (shadow decisions are not served)."""
    record = session.get(Decision, decision_id)
    return record if record is not None and record.role == "champion" else None
