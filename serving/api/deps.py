"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from serving.engine import Engine
from serving.keys import Principal
from serving.live import LiveFeatures
from serving.logging import request_id_var
from serving.settings import Settings

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The key itself")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A store session for the request, closed afterwards (uncommitted work is dropped).

    Opening a session does not touch the database; routes use it from the thread pool.
    Dependencies that do no blocking work are ``async`` so that they run on the event loop
    instead of costing a thread-pool round trip each.
    """
    with request.app.state.store.sessions() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]


async def get_live(request: Request) -> LiveFeatures:
    """The online state, first brought up to date with the store's event log."""
    live = request.app.state.live
    live.catch_up()
    return live


async def get_engine(request: Request) -> Engine:
    """The engine in use, read once for the whole request.

    Raises:
        HTTPException: 503 while no models and policy are loaded.
    """
    engine = request.app.state.engines.current
    if engine is None:
        reason = request.app.state.engines.error or "not loaded yet"
        raise HTTPException(503, detail=f"models and policy are not loaded: {reason}")
    return engine


async def get_request_id() -> str | None:
    return request_id_var.get()


LiveDep = Annotated[LiveFeatures, Depends(get_live)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    """The caller behind the request's key.

    Raises:
        HTTPException: 401 when no key is given or the key is unknown or revoked.
    """
    token = credentials.credentials if credentials is not None else api_key
    principal = await authenticate_cached(request, token) if token else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def authenticate_cached(request: Request, token: str) -> Principal | None:
    """The principal of ``token``: from the key cache, else from the store in the thread pool."""
    cache = request.app.state.key_cache
    cached = cache.cached(token)
    if cached is not None:
        return cached

    def look_up() -> Principal | None:
        with request.app.state.store.sessions() as session:
            return cache.authenticate(session, token)

    return await run_in_threadpool(look_up)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def admitted(*roles: str) -> frozenset[str]:
    """The roles whose keys may do what keys of ``roles`` may: admin keys always may."""
    return frozenset(roles) | {"admin"}


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting keys of ``roles`` (admin keys are always admitted)."""
    allowed = admitted(*roles)

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            needed = " or ".join(sorted(allowed))
            raise HTTPException(
                status_code=403, detail=f"a {principal.role} key may not do this; needs {needed}"
            )
        return principal

    return check


ServiceCaller = Annotated[Principal, Depends(require("service"))]
CollectorCaller = Annotated[Principal, Depends(require("collector"))]
ReaderCaller = Annotated[Principal, Depends(require("service", "collector"))]
AdminCaller = Annotated[Principal, Depends(require())]
