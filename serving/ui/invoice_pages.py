"""One invoice: its decision with every reason and matched policy row, the customer's timeline,
the decision history; and the form that records an action on it."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from serving.api.schemas.worklist import ActionIn
from serving.decide import DecisionError, today
from serving.freshness import decide_items
from serving.store.book import IngestError
from serving.ui import queries
from serving.ui.format import due_words, pay_range
from serving.ui.pages import UserDep, csrf_refusal, here, page, refusal, safe_next
from serving.worklist import record_action

router = APIRouter()
ACTIONS = {
    "contacted": "Contacted",
    "promise_to_pay": "Promise to pay",
    "dispute_logged": "Dispute logged",
    "escalated": "Escalated",
    "resolved": "Resolved",
}
DISPUTE_REASONS = ("pricing", "delivery", "quality", "billing_error", "admin", "other")


@router.get("/invoices/{invoice_id}")
def invoice_page(
    request: Request,
    user: UserDep,
    invoice_id: str,
    recorded: str | None = None,
    whole: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    """``?all=1`` shows the customer's whole timeline (else the latest events)."""
    state = request.app.state
    engine = state.engines.current
    if engine is not None:
        decide_items(state.store.sessions, engine, state.live, [invoice_id], today())
    with state.store.sessions() as session:
        found = queries.read_invoice(session, invoice_id)
        if found is None:
            return refusal(request, user, 404, f"There is no invoice {invoice_id!r}.")
        invoice, customer = found
        item = queries.read_item(session, invoice_id)
        timeline, events = queries.read_timeline(
            session, customer.customer_id, None if whole else queries.TIMELINE_LIMIT
        )
        history = queries.read_history(session, invoice_id)
    decision = item[1].decision if item and item[1] is not None else None
    as_of = today()
    return page(
        request,
        "invoice.html",
        user=user,
        invoice=invoice,
        customer=customer,
        item=item[0] if item else None,
        decision=decision,
        pay=pay_range(decision["scores"]) if decision else ("", ""),
        due=due_words(invoice.due_date, as_of),
        timeline=timeline,
        events=events,
        history=history,
        recorded=ACTIONS.get(recorded or ""),
        actions=ACTIONS,
        reasons=DISPUTE_REASONS,
        here=here(request),
        today=as_of,
    )


@router.post("/invoices/{invoice_id}/actions")
def record(
    request: Request,
    user: UserDep,
    invoice_id: str,
    action: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    promised_date: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=20)] = "",
    detail: Annotated[str, Form(max_length=4000)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Store the action (dated today), re-decide the invoice, go back to where it was sent."""
    refused = csrf_refusal(request, user, csrf)
    if refused is not None:
        return refused
    try:
        body = ActionIn(
            action_id=f"UI-{uuid.uuid4().hex[:20]}",
            action=action,
            date=today(),
            promised_date=promised_date or None,
            reason=reason or None,
            detail=detail.strip() or None,
        )
    except ValidationError as error:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        return refusal(request, user, 422, f"The action was not recorded: {problems}.")
    state = request.app.state
    with state.store.sessions() as session:
        try:
            record_action(
                session,
                state.live,
                state.engines.current,
                invoice_id,
                body.model_dump(),
                body.date,
                None,
            )
        except (DecisionError, IngestError) as error:
            status = getattr(error, "status_code", 422)
            return refusal(request, user, status, f"The action was not recorded: {error}.")
    target = safe_next(next or f"/ui/invoices/{invoice_id}")
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({'recorded': action})}", status_code=303)
