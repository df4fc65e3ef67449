"""One pure ASGI middleware around every request: request id, body-size limit, latency
metrics, an access log line, and a clean 500 as the very last line of defence."""

from __future__ import annotations

import json
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.ids import new_id
from serving.logging import get_logger, request_id_var
from serving.metrics import Metrics

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
log = get_logger("http")


class BodyTooLarge(HTTPException):
    """The request body passed the configured limit while it was being read (no
    Content-Length was declared); raised inside the app, answered with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class RequestMiddleware:
    """Wraps the app; see the module docstring.

    Args:
        app: The ASGI app.
        metrics: Where latency is recorded.
        max_body_bytes: Bodies larger than this are answered with 413.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        state = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if _declared_length(scope) > self.max_body_bytes:
                await self._too_large(send_with_id)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if not state["started"]:
                await self._too_large(send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not state["started"]:
                await _send_json(send_with_id, 500, {"detail": "internal error"})
        finally:
            self._record(scope, state["status"], time.perf_counter() - started)
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        return limited_receive

    async def _too_large(self, send: Send) -> None:
        detail = f"request body larger than {self.max_body_bytes} bytes"
        await _send_json(send, 413, {"detail": detail, "field": None})

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.latency.labels(method, template, str(status)).observe(seconds)
        log.info(
            "request",
            extra={
                "method": method,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if VALID_REQUEST_ID.match(text):
                return text
    return new_id()


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _send_json(send: Send, status: int, body: dict) -> None:
    await send_json(send, status, json.dumps(body).encode())


async def send_json(send: Send, status: int, payload: bytes) -> None:
    """Send ``payload``, a JSON document, as the whole response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
