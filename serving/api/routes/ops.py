"""Health (no key needed), readiness and Prometheus metrics (any valid key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.api.deps import PrincipalDep
from serving.api.schemas.common import ERROR_RESPONSES
from serving.api.schemas.ops import HealthOut, ReadyOut

router = APIRouter(tags=["ops"], responses=ERROR_RESPONSES)


@router.get("/healthz", response_model=HealthOut, summary="The process is up")
def healthz() -> HealthOut:
    return HealthOut()


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready; the checks say why"}},
    summary="Store reachable and migrated, models and policy loaded",
)
def readyz(request: Request, caller: PrincipalDep) -> ReadyOut | JSONResponse:
    checks = request.app.state.readiness()
    ready = ReadyOut(ready=all(v == "ok" for v in checks.values()), checks=checks)
    if not ready.ready:
        return JSONResponse(ready.model_dump(), status_code=503)
    return ready


@router.get(
    "/metrics",
    response_class=Response,
    response_model=None,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **ERROR_RESPONSES,
    },
    summary="Prometheus metrics",
)
def metrics(request: Request, caller: PrincipalDep) -> Response:
    data = request.app.state.metrics.exposition()
    return Response(content=data, media_type=CONTENT_TYPE_LATEST)
