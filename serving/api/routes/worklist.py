"""Worklists for collectors and revenue owners, and the actions they record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from serving.api.deps import CollectorCaller, EngineDep, LiveDep, RequestIdDep, SessionDep
from serving.api.schemas.common import ERROR_RESPONSES, ConflictOut, ErrorOut
from serving.api.schemas.decisions import (
    ActionIn,
    ActionOut,
    DecisionOut,
    Owner,
    Tier,
    WorklistItemOut,
    WorklistOut,
    WorkStatus,
)
from serving.decide import DecisionError, today
from serving.worklist import WorklistFilter, record_action, rescore

router = APIRouter(prefix="/v1/worklist", tags=["worklist"], responses=ERROR_RESPONSES)


@router.get(
    "",
    response_model=WorklistOut,
    responses={503: {"model": ErrorOut, "description": "Models and policy not loaded"}},
    summary="Open invoices re-scored as of today, filtered, ranked by amount at risk",
)
def worklist(
    session: SessionDep,
    live: LiveDep,
    engine: EngineDep,
    caller: CollectorCaller,
    request_id: RequestIdDep,
    owner: Owner | None = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    tier: Tier | None = None,
    status: WorkStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> WorklistOut:
    as_of = today()
    wanted = WorklistFilter(owner, assignee, tier, status, limit)
    items = rescore(session, engine, live, wanted, as_of, request_id)
    return WorklistOut(
        as_of=as_of,
        items=[
            WorklistItemOut(
                invoice_id=decided.body["invoice_id"],
                customer_id=decided.body["customer_id"],
                status=item_status,
                last_action=last_action,
                decision=DecisionOut.model_validate(decided.body),
            )
            for item_status, last_action, decided in items
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
    body: ActionIn,
    session: SessionDep,
    live: LiveDep,
    caller: CollectorCaller,
    response: Response,
    invoice_id: str = Path(min_length=1, max_length=64),
) -> ActionOut:
    try:
        result, status, stored_as = record_action(
            session, live, invoice_id, body.model_dump(), body.date or today()
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
