"""Exception handlers: every error a client can cause becomes a documented body."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from serving.api.schemas.common import ConflictOut, ErrorOut
from serving.logging import get_logger
from serving.store.book import Conflict, IngestError

log = get_logger("errors")


async def ingest_error_handler(request: Request, error: Exception) -> JSONResponse:
    """409 with the differing fields, 404 naming the unknown id, 422 shaped like FastAPI's."""
    assert isinstance(error, IngestError)
    log.info(
        "ingest refused",
        extra={"path": request.url.path, "status": error.status_code, "field": error.field},
    )
    if isinstance(error, Conflict):
        body = ConflictOut(detail=error.message, differences=error.differences)
        return JSONResponse(jsonable_encoder(body), status_code=409)
    if error.status_code == 422:
        loc = ["body", error.field] if error.field else ["body"]
        detail = [{"loc": loc, "msg": error.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)
    body = ErrorOut(detail=error.message, field=error.field)
    return JSONResponse(body.model_dump(), status_code=error.status_code)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IngestError, ingest_error_handler)
