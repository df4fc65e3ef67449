"""Builds the FastAPI app: ``uvicorn serving.main:create_app --factory`` or ``arbiter serve``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving.api.errors import add_error_handlers
from serving.api.fastlane import DecisionFastLane
from serving.api.middleware import RequestMiddleware
from serving.api.routes import admin, book, decisions, keys, ops, worklist
from serving.audit import audit_writer
from serving.engine import EngineHolder
from serving.events import EventTail
from serving.keys import KeyCache
from serving.live import LiveFeatures
from serving.logging import configure_logging, get_logger
from serving.memory import freeze_long_lived
from serving.metrics import Metrics
from serving.refresher import Refresher
from serving.settings import Settings
from serving.store.db import Store
from serving.ui import routes as ui

log = get_logger("app")
DESCRIPTION = """Who should act on each invoice, and why.

Every endpoint but `/healthz` needs an API key, sent as `Authorization: Bearer <key>` or
`X-API-Key: <key>`. Service keys ingest and decide, collector keys read worklists and record
actions, admin keys do everything, including reload and key management.
Money is exchanged as decimal strings (at most 2 decimals) next to its currency."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    store = Store(settings.database_url)
    if settings.upgrade_on_start:
        store.upgrade()
    app.state.store = store
    app.state.audit = audit_writer(store)
    tail = EventTail(
        store.engine, app.state.live, on_reload=lambda: app.state.engines.load(settings)
    )
    events = tail.rebuild()
    app.state.live.follow, app.state.tail = tail.catch_up, tail
    engine = app.state.engines.load(settings)
    if engine is None:
        log.warning("models and policy not loaded", extra={"reason": app.state.engines.error})
    log.info(
        "started",
        extra={"env": settings.env, "database": store.engine.dialect.name, "events": events},
    )
    freeze_long_lived(collect=True)
    app.state.refresher = Refresher(
        store.sessions, app.state.engines, app.state.live, settings.keep_events
    ).start()
    try:
        yield
    finally:
        app.state.refresher.stop()
        app.state.audit.stop()
        app.state.tail.close()
        store.close()


def readiness(app: FastAPI) -> dict[str, str]:
    """Each readiness check: ``ok`` or what is wrong."""
    engines: EngineHolder = app.state.engines
    engine = engines.current
    loaded = "ok" if engine is not None else f"not loaded: {engines.error or 'starting'}"
    return {"store": app.state.store.check(), "models": loaded, "policy": loaded}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service, configured by ``settings`` (default: from ``ARBITER_*`` variables)."""
    settings = settings or Settings()
    app = FastAPI(
        title="Arbiter",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = Metrics.create()
    app.state.readiness = lambda: readiness(app)
    app.state.live = LiveFeatures()
    app.state.key_cache = KeyCache()
    app.state.engines = EngineHolder(on_swap=app.state.metrics.show_versions)
    add_error_handlers(app)
    # Added first, so it runs inside RequestMiddleware (ids, body limit, metrics, access log).
    app.add_middleware(DecisionFastLane)
    app.add_middleware(
        RequestMiddleware, metrics=app.state.metrics, max_body_bytes=settings.max_body_bytes
    )
    app.include_router(ops.router)
    app.include_router(book.router)
    app.include_router(keys.router)
    app.include_router(decisions.router)
    app.include_router(worklist.router)
    app.include_router(admin.router)
    app.include_router(ui.router)
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC_DIR), name="ui-static")
    return app
