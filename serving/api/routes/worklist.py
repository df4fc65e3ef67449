"""Worklists for collectors and revenue owners, and the actions they record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from serving.api.deps import CollectorCaller, LiveDep, RequestIdDep, SessionDep
from serving.api.schemas.common import ERROR_RESPONSES, ConflictOut, ErrorOut
from serving.api.schemas.decisions import DecisionOut, Owner, Tier
from serving.api.schemas.worklist import (
    ActionIn,
    ActionOut,
    WorklistItemOut,
    WorklistOut,
    WorkStatus,
)
from serving.decide import DecisionError, today
from serving.worklist import WorklistFilter, read_worklist, record_action

router = APIRouter(prefix="/v1/worklist", tags=["worklist"], responses=ERROR_RESPONSES)
EntityQuery = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get(
    "",
    response_model=WorklistOut,
    summary="Open invoices with their decision as of today, filtered, ranked by amount at risk",
)
def worklist(
    request: Request,
    live: LiveDep,
    caller: CollectorCaller,
    owner: Owner | None = None,
    assignee: EntityQuery = None,
    tier: Tier | None = None,
    status: Annotated[
        WorkStatus | None, Query(description="Default: every status but resolved")
    ] = None,
    customer_id: EntityQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, description="Items to skip (paging)")] = 0,
) -> WorklistOut:
    """Every open (unpaid) invoice has an item. Items whose stored decision is older than
    today, or than an event on the invoice or its customer, are re-decided before they are
    listed; when many are (a new day, a freshly loaded book) the rest is re-decided in the
    background and counted in ``pending``. Without loaded models the stored decisions are
    listed as they are. ``assignee`` also matches either owner of a joint item's customer.
    """
    wanted = WorklistFilter(owner, assignee, tier, status, customer_id, limit, offset)
    state = request.app.state
    page = read_worklist(state.store.sessions, state.engines.current, live, wanted)
    if page.pending and getattr(state, "refresher", None) is not None:
        state.refresher.kick()
    return WorklistOut(
        as_of=page.as_of,
        total=page.total,
        offset=page.offset,
        pending=page.pending,
        items=[
            WorklistItemOut(
                invoice_id=row.invoice_id,
                customer_id=row.customer_id,
                status=row.status,
                last_action=row.last_action,
                decision=DecisionOut.model_validate(row.decision),
            )
            for row in page.items
        ],
    )


@router.post(
    "/{invoice_id}/actions",
    response_model=ActionOut,
    status_code=201,
    responses={
        200: {"model": ActionOut, "description": "A replay of a recorded action"},
        404: {"model": ErrorOut},
        409: {"model": ConflictOut},
    },
    summary="Record what was done: contacted, promise to pay, dispute logged, escalated, resolved",
)
def record(
    request: Request,
    body: ActionIn,
    session: SessionDep,
    live: LiveDep,
    caller: CollectorCaller,
    request_id: RequestIdDep,
    response: Response,
    invoice_id: str = Path(min_length=1, max_length=64),
) -> ActionOut:
    """The action is stored as an activity (a dispute for ``dispute_logged``) and the
    invoice is re-decided at once (a new decision in the audit log)."""
    engine = request.app.state.engines.current
    try:
        result, status, stored_as = record_action(
            session, live, engine, invoice_id, body.model_dump(), body.date or today(), request_id
        )
    except DecisionError as error:
        raise HTTPException(error.status_code, detail=error.message) from error
    response.status_code = 201 if result == "created" else 200
    return ActionOut(
        invoice_id=invoice_id,
        action_id=body.action_id,
        result="created" if result == "created" else "unchanged",
        status=status,
        recorded_as=stored_as,
    )
