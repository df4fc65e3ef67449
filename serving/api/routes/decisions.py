"""Decisions: one invoice (stored, or new in the body), a batch, and the audit record."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool

from serving.api.deps import (
    EngineDep,
    LiveDep,
    ReaderCaller,
    RequestIdDep,
    ServiceCaller,
    SessionDep,
)
from serving.api.schemas.book import InvoiceIn
from serving.api.schemas.common import ERROR_RESPONSES, ConflictOut, ErrorOut
from serving.api.schemas.decisions import (
    DecisionBatchIn,
    DecisionBatchItemOut,
    DecisionBatchOut,
    DecisionIn,
    DecisionOut,
    DecisionRecordOut,
)
from serving.audit import AuditUnavailable
from serving.decide import (
    DecisionError,
    decide,
    known_facts,
    log_decisions,
    read_decision,
    today,
)
from serving.live import LiveFeatures
from serving.store.book import ingest
from serving.store.db import Store

router = APIRouter(prefix="/v1/decisions", tags=["decisions"], responses=ERROR_RESPONSES)
NOT_READY = {
    503: {
        "model": ErrorOut,
        "description": "Models and policy not loaded, or the audit log unavailable",
    }
}


def count(request: Request, body: dict) -> None:
    request.app.state.metrics.decisions.labels(body["owner"], body["priority"]["tier"]).inc()


@router.post(
    "",
    response_model=DecisionOut,
    responses={404: {"model": ErrorOut}, 409: {"model": ConflictOut}, **NOT_READY},
    summary="Decide one invoice: who should act, and why",
)
async def decide_one(
    body: DecisionIn,
    request: Request,
    live: LiveDep,
    engine: EngineDep,
    caller: ServiceCaller,
    request_id: RequestIdDep,
) -> DecisionOut:
    """Runs on the event loop: the decision reads only memory (features, facts, models), and
    the audit write is awaited from the group-committing writer, never done here."""
    invoice_id = body.invoice_id
    if body.invoice is not None:
        await run_in_threadpool(ingest_invoice, request.app.state.store, live, body.invoice)
        invoice_id = body.invoice.invoice_id
    try:
        decided = decide(engine, live, known_facts(live, invoice_id), body.as_of or today())
        await request.app.state.audit.append(decided, request_id)
    except DecisionError as error:
        raise HTTPException(error.status_code, detail=error.message) from error
    except AuditUnavailable as error:
        raise HTTPException(503, detail=str(error)) from error
    count(request, decided.body)
    return decided.body


def ingest_invoice(store: Store, live: LiveFeatures, invoice: InvoiceIn) -> None:
    """Store a new invoice sent with a decision request and feed it to the features."""
    values = invoice.model_dump()
    with store.sessions() as session:
        ingest(session, "invoices", values)
        session.commit()
    live.catch_up()


@router.post(
    "/batch",
    response_model=DecisionBatchOut,
    responses=NOT_READY,
    summary="Decide up to 1000 stored invoices; each item answers on its own",
)
def decide_batch(
    body: DecisionBatchIn,
    request: Request,
    session: SessionDep,
    live: LiveDep,
    engine: EngineDep,
    caller: ServiceCaller,
    request_id: RequestIdDep,
) -> DecisionBatchOut:
    items, logged = [], []
    default_day = today()
    for index, item in enumerate(body.items):
        try:
            facts = known_facts(live, item.invoice_id)
            decided = decide(engine, live, facts, item.as_of or default_day)
        except DecisionError as error:
            items.append(
                DecisionBatchItemOut(
                    index=index,
                    invoice_id=item.invoice_id,
                    status_code=error.status_code,
                    error=error.message,
                )
            )
            continue
        logged.append((decided, request_id))
        items.append(
            DecisionBatchItemOut(
                index=index,
                invoice_id=item.invoice_id,
                status_code=200,
                decision=DecisionOut.model_validate(decided.body),
            )
        )
    if logged:
        log_decisions(session, logged)
        session.commit()
    for decided, _ in logged:
        count(request, decided.body)
    return DecisionBatchOut(decided=len(logged), rejected=len(items) - len(logged), items=items)


@router.get(
    "/{decision_id}",
    response_model=DecisionRecordOut,
    responses={404: {"model": ErrorOut}},
    summary="The audit record of a decision: the decision, its inputs, its request",
)
def read_one(
    session: SessionDep,
    caller: ReaderCaller,
    decision_id: str = Path(min_length=1, max_length=36),
) -> DecisionRecordOut:
    record = read_decision(session, decision_id)
    if record is None:
        raise HTTPException(404, detail=f"unknown decision_id {decision_id!r}")
    return DecisionRecordOut(
        decision=DecisionOut.model_validate(record.decision),
        features=record.features,
        request_id=record.request_id,
    )
