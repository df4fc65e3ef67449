"""How values read on the pages: money with its currency, risks in percent, days in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from serving.worklist import WorklistRow

OWNER_WORDS = {
    "finance": "Finance",
    "revenue_owner": "Revenue owner",
    "joint": "Joint",
    "none": "None",
}
STATUS_WORDS = {
    "open": "open",
    "contacted": "contacted",
    "promised": "promise to pay",
    "disputed": "dispute logged",
    "escalated": "escalated",
    "resolved": "resolved",
}


def money(amount: Decimal | str | float | None, currency: str | None = None) -> str:
    """``12,345.67 EUR``: two decimals, thousands separated, the currency after."""
    if amount is None:
        return ""
    text = f"{Decimal(str(amount)):,.2f}"
    return f"{text} {currency}" if currency else text


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def due_words(due_date: date, as_of: date) -> str:
    """``due in 5 d``, ``due today`` or ``12 d past due``."""
    days = (due_date - as_of).days
    if days > 0:
        return f"due in {days} d"
    if days == 0:
        return "due today"
    return f"{-days} d past due"


def words(code: str | None) -> str:
    return "" if code is None else code.replace("_", " ")


def pay_range(scores: dict[str, Any]) -> tuple[str, str]:
    """The p50 pay date and its ``p10 – p90`` range, as ISO days."""
    p50 = scores.get("pay_date_p50") or ""
    low, high = scores.get("pay_date_p10"), scores.get("pay_date_p90")
    return p50, f"{low} – {high}" if low and high else ""


@dataclass(frozen=True)
class RowView:
    """One worklist row, every cell as text."""

    invoice_id: str
    customer_id: str
    customer: str
    amount: str
    due: str
    days_past_due: int
    p_late: str
    p_dispute: str
    pay_date: str
    pay_range: str
    owner: str
    assignee: str
    action: str
    tier: str
    at_risk: str
    status: str
    reason: str


def row_view(row: WorklistRow, as_of: date) -> RowView:
    body = row.decision
    scores, priority = body["scores"], body["priority"]
    reasons = body.get("reasons") or []
    p50, spread = pay_range(scores)
    return RowView(
        invoice_id=row.invoice_id,
        customer_id=row.customer_id,
        customer=row.customer_name or row.customer_id,
        amount=money(row.amount, row.currency),
        due=due_words(row.due_date, as_of),
        days_past_due=(as_of - row.due_date).days,
        p_late=percent(scores.get("p_late")),
        p_dispute=percent(scores.get("p_dispute")),
        pay_date=p50,
        pay_range=spread,
        owner=OWNER_WORDS.get(body["owner"], body["owner"]),
        assignee=body.get("assignee") or "",
        action=words(body["action"]),
        tier=priority["tier"],
        at_risk=money(priority["amount_at_risk"], priority["currency"]),
        status=STATUS_WORDS.get(row.status, row.status),
        reason=reasons[0]["text"] if reasons else "",
    )
