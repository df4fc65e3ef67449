"""Versions in use (models, policy) and the atomic reload."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from serving.api.deps import AdminCaller, EngineDep, PrincipalDep, SettingsDep
from serving.api.schemas.common import ERROR_RESPONSES, ErrorOut
from serving.api.schemas.decisions import ModelsOut, PolicyOut, ReloadOut
from serving.logging import get_logger
from serving.store.events import ENGINE_RELOAD, publish_marker

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
log = get_logger("admin")


def tell_other_processes(request: Request) -> None:
    """Log an ``engine_reload`` marker: every other process of the service reloads too."""
    with request.app.state.store.sessions() as session:
        marker = publish_marker(session, ENGINE_RELOAD)
        session.commit()
    request.app.state.tail.own_markers.add(marker)


NOT_READY = {503: {"model": ErrorOut, "description": "Models and policy not loaded"}}


@router.get("/models", response_model=ModelsOut, responses=NOT_READY, tags=["versions"])
def models(engine: EngineDep, caller: PrincipalDep) -> ModelsOut:
    """The models in use: version per target, feature names, source, shadow challenger."""
    challenger = engine.challenger_bundle
    return ModelsOut(
        versions=engine.model_versions,
        feature_names=engine.bundle.feature_names,
        source=engine.source.get("models", ""),
        challenger=None if challenger is None else challenger.versions,
        loaded_at=engine.loaded_at,
    )


@router.get("/policy", response_model=PolicyOut, responses=NOT_READY, tags=["versions"])
def policy(engine: EngineDep, caller: PrincipalDep) -> PolicyOut:
    """The policy in use: name, content hash, source, shadow challenger's hash."""
    challenger = engine.challenger_policy
    return PolicyOut(
        name=engine.policy.name,
        version=engine.policy.version,
        source=engine.source.get("policy", ""),
        challenger=None if challenger is None else challenger.version,
    )


@router.post(
    "/admin/reload",
    response_model=ReloadOut,
    responses={503: {"model": ErrorOut, "description": "The new models or policy failed to load"}},
    tags=["admin"],
)
def reload(request: Request, settings: SettingsDep, caller: AdminCaller) -> ReloadOut:
    """Load the configured models and policy again and swap them in at once.

    The new engine is built completely before one reference is replaced; requests in flight
    finish with the engine they started with. On failure the old engine stays in use.
    """
    engine = request.app.state.engines.load(settings)
    if engine is None:
        raise HTTPException(503, detail=f"reload failed: {request.app.state.engines.error}")
    tell_other_processes(request)
    log.info("reloaded", extra={"models": engine.model_versions, "policy": engine.policy.version})
    return ReloadOut(
        models=engine.model_versions, policy=engine.policy.version, loaded_at=engine.loaded_at
    )
