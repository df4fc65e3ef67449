"""Ingest of the canonical tables: single, bulk and read-back, the same for each table.

Statuses: 201 created; 200 unchanged or updated (a replay); 404 unknown referenced id;
409 same id, other content; 422 invalid body or a rule of the stored book.
"""

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from serving.api.deps import LiveDep, ReaderCaller, ServiceCaller, SessionDep
from serving.api.schemas.book import (
    ActivityIn,
    ActivityOut,
    BulkCounts,
    BulkIn,
    BulkItemOut,
    BulkOut,
    CustomerIn,
    CustomerOut,
    DisputeIn,
    DisputeOut,
    Ingested,
    InvoiceIn,
    InvoiceOut,
    PaymentIn,
    PaymentOut,
)
from serving.api.schemas.common import ERROR_RESPONSES, ConflictOut, ErrorOut, FieldError
from serving.logging import get_logger
from serving.store.book import (
    ENTITIES,
    Conflict,
    IngestError,
    Outcome,
    get_record,
    ingest,
    ingest_many,
)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
log = get_logger("ingest")
BULK_RESULTS = ("created", "unchanged", "updated", "rejected")

TABLES: tuple[tuple[str, type[BaseModel], type[BaseModel]], ...] = (
    ("customers", CustomerIn, CustomerOut),
    ("invoices", InvoiceIn, InvoiceOut),
    ("payments", PaymentIn, PaymentOut),
    ("disputes", DisputeIn, DisputeOut),
    ("activities", ActivityIn, ActivityOut),
)


def item_errors(error: Exception) -> list[FieldError]:
    """Field-level messages of a validation error or a refused ingest."""
    if isinstance(error, ValidationError):
        return [
            FieldError(field=".".join(str(p) for p in e["loc"]) or "item", message=e["msg"])
            for e in error.errors(include_url=False)
        ]
    if isinstance(error, Conflict):
        return [
            FieldError(field=d["field"], message=f"stored {d['stored']}, received {d['received']}")
            for d in error.differences
        ]
    assert isinstance(error, IngestError)
    return [FieldError(field=error.field or "item", message=error.message)]


def ingest_bulk(
    session: Session, table: str, schema_in: type[BaseModel], items: list[dict[str, Any]]
) -> BulkOut:
    """Validate each item, ingest the valid ones in order; every item gets a result (the
    stored ones' events are logged by ``ingest_many``)."""
    key = ENTITIES[table].key
    results: list[BulkItemOut | None] = [None] * len(items)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, schema_in.model_validate(item).model_dump()))
        except ValidationError as error:
            raw_id = item.get(key)
            results[index] = BulkItemOut(
                index=index,
                id=raw_id if isinstance(raw_id, str) else None,
                result="rejected",
                status_code=422,
                errors=item_errors(error),
            )
    outcomes = ingest_many(session, table, [values for _, values in valid])
    session.commit()
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        results[index] = bulk_item(index, outcome)
    done = [r for r in results if r is not None]
    counts = BulkCounts(**{r: sum(1 for d in done if d.result == r) for r in BULK_RESULTS})
    return BulkOut(counts=counts, items=done)


def bulk_item(index: int, outcome: Outcome) -> BulkItemOut:
    if outcome.error is None:
        status = 201 if outcome.result == "created" else 200
        return BulkItemOut(index=index, id=outcome.key, result=outcome.result, status_code=status)
    return BulkItemOut(
        index=index,
        id=outcome.key,
        result="rejected",
        status_code=outcome.error.status_code,
        errors=item_errors(outcome.error),
    )


def add_table_routes(table: str, schema_in: type[BaseModel], schema_out: type[BaseModel]) -> None:
    """Register POST /v1/<table>, POST /v1/<table>/bulk and GET /v1/<table>/{id}."""
    key = ENTITIES[table].key
    singular = table[:-1] if table != "activities" else "activity"
    ingested = Ingested[schema_out]  # type: ignore[valid-type]

    def post_one(
        body: schema_in,  # type: ignore[valid-type]
        session: SessionDep,
        live: LiveDep,
        caller: ServiceCaller,
        response: Response,
    ) -> ingested:  # type: ignore[valid-type]
        values = body.model_dump()
        outcome, record = ingest(session, table, values)
        session.commit()
        live.catch_up()
        response.status_code = 201 if outcome.result == "created" else 200
        return ingested(result=outcome.result, record=schema_out.model_validate(record))

    def post_bulk(
        body: BulkIn, session: SessionDep, live: LiveDep, caller: ServiceCaller
    ) -> BulkOut:
        out = ingest_bulk(session, table, schema_in, body.items)
        live.catch_up()
        counts = {f"n_{k}": v for k, v in out.counts.model_dump().items()}
        log.info("bulk ingest", extra={"table": table, **counts})
        return out

    def get_one(
        session: SessionDep,
        caller: ReaderCaller,
        record_id: str = Path(alias=key, min_length=1, max_length=64),
    ) -> schema_out:  # type: ignore[valid-type]
        record = get_record(session, table, record_id)
        if record is None:
            raise HTTPException(404, detail=f"unknown {key} {record_id!r}")
        return schema_out.model_validate(record)

    tags = [table]
    errors = {404: {"model": ErrorOut}, 409: {"model": ConflictOut}}
    router.add_api_route(
        f"/{table}",
        post_one,
        methods=["POST"],
        response_model=ingested,
        status_code=201,
        responses={200: {"model": ingested, "description": "A replay"}, **errors},
        summary=f"Ingest one {singular}",
        tags=tags,
    )
    router.add_api_route(
        f"/{table}/bulk",
        post_bulk,
        methods=["POST"],
        response_model=BulkOut,
        summary=f"Ingest up to 1000 {table}, with a result per item",
        tags=tags,
    )
    router.add_api_route(
        f"/{table}/{{{key}}}",
        get_one,
        methods=["GET"],
        response_model=schema_out,
        responses={404: {"model": ErrorOut}},
        summary=f"Read one stored {singular}",
        tags=tags,
    )


for _table, _schema_in, _schema_out in TABLES:
    add_table_routes(_table, _schema_in, _schema_out)
