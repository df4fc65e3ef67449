"""``POST /v1/decisions`` for a stored invoice, answered without the framework's routing.

That request is most of the service's traffic and sits inside other systems' request paths.
Routing, dependency solving and the response model's validation cost FastAPI about as much
CPU as the decision itself, so this ASGI layer answers the common case directly, with the same
parts the route uses: the key cache and roles, ``DecisionIn``, the decision, the audit writer,
``DecisionOut`` and the decision counter.

Anything else goes on to the app unchanged: other routes, a new invoice in the body, a key not
in the cache, a body that fails validation, no models loaded. The route in
``routes/decisions.py`` stays the one definition of those answers and of the OpenAPI schema.
The layer sits inside ``RequestMiddleware``, so request ids, the body limit, latency metrics
and the access log apply as before.
"""

from __future__ import annotations

import json

from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.deps import admitted
from serving.api.middleware import send_json
from serving.api.routes import decisions
from serving.api.schemas.decisions import DecisionIn, DecisionOut
from serving.audit import AuditUnavailable
from serving.decide import DecisionError, decide, known_facts, today
from serving.keys import KeyCache, Principal
from serving.logging import request_id_var

PATH = "/v1/decisions"
DECIDING_ROLES = admitted("service")  # as the route requires
decision_out = TypeAdapter(DecisionOut)


class DecisionFastLane:
    """Wraps the app; see the module docstring.

    Args:
        app: The ASGI app that answers everything this layer does not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The route this layer stands in for, so that metrics and logs name it as the app would.
        self.route = next(
            route
            for route in decisions.router.routes
            if isinstance(route, APIRoute)
            and route.path == PATH
            and "POST" in (route.methods or ())
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        answered = await self._answer(scope, body, send)
        if not answered:
            await self.app(scope, _replay(body, receive), send)

    async def _answer(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Decide and answer; False (nothing sent) when the app must answer instead."""
        state = scope["app"].state
        principal = _cached_principal(scope, state.key_cache)
        engine = state.engines.current
        if principal is None or principal.role not in DECIDING_ROLES or engine is None:
            return False
        try:
            asked = DecisionIn.model_validate_json(body)
        except ValidationError:
            return False
        invoice_id = asked.invoice_id
        if asked.invoice is not None or invoice_id is None:
            return False
        scope["route"] = self.route
        live = state.live
        live.catch_up()
        try:
            facts = known_facts(live, invoice_id)
            decided = decide(engine, live, facts, asked.as_of or today())
            await state.audit.append(decided, request_id_var.get())
        except DecisionError as error:
            await send_json(send, error.status_code, _detail(error.message))
            return True
        except AuditUnavailable as error:
            await send_json(send, 503, _detail(str(error)))
            return True
        answer = decision_out.dump_json(decision_out.validate_python(decided.body))
        await send_json(send, 200, answer)
        decision = decided.body
        state.metrics.decisions.labels(decision["owner"], decision["priority"]["tier"]).inc()
        return True


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


def _cached_principal(scope: Scope, key_cache: KeyCache) -> Principal | None:
    """The caller, if its key is in the cache; the app authenticates everything else."""
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                token = credentials
        elif name == b"x-api-key" and token is None:
            token = value.decode("latin-1")
    return key_cache.cached(token) if token else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the connection's messages."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


def _detail(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()
