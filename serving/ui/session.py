"""Signed session cookies and CSRF tokens of the web app.

The cookie holds no secret: it names the API key by its id, with a random session nonce and
the time it was issued, signed with HMAC-SHA256 under ``ARBITER_SESSION_SECRET``. Every request
looks the key up again, so a revoked key loses access at once. The CSRF token of a session is
an HMAC of its nonce: it is checked on every form post and cannot be made without the secret.
Before sign-in, a short-lived ``arbiter_login`` cookie carries the nonce of the sign-in form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from serving.store.models import ApiKey

SESSION_COOKIE = "arbiter_session"
LOGIN_COOKIE = "arbiter_login"
SESSION_SECONDS = 12 * 3600
LOGIN_SECONDS = 3600
UI_ROLES = ("collector", "admin")


@dataclass(frozen=True)
class UiUser:
    """Who is signed in: the key's id, name and role, and the session's CSRF token."""

    key_id: str
    name: str | None
    role: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, payload: dict[str, object]) -> str:
    """``payload`` as compact JSON in base64, a dot, and its HMAC."""
    text = json.dumps(payload, separators=(",", ":")).encode()
    data = base64.urlsafe_b64encode(text).decode().rstrip("=")
    return f"{data}.{_mac(secret, 'session:' + data)}"


def unsign(secret: str, token: str | None, max_age: float) -> dict[str, object] | None:
    """The payload of a token signed by ``sign`` no older than ``max_age`` seconds, or None."""
    if not token or token.count(".") != 1 or len(token) > 1000:
        return None
    data, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(secret, "session:" + data)):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        return None
    issued = payload.get("t") if isinstance(payload, dict) else None
    if not isinstance(issued, int | float) or time.time() - issued > max_age:
        return None
    return payload


def csrf_token(secret: str, nonce: str, purpose: str = "csrf") -> str:
    return _mac(secret, f"{purpose}:{nonce}")


def new_session(key_id: str) -> dict[str, object]:
    return {"k": key_id, "n": secrets.token_urlsafe(16), "t": int(time.time())}


def new_login() -> dict[str, object]:
    return {"n": secrets.token_urlsafe(16), "t": int(time.time())}


def current_user(session: Session, secret: str, cookie: str | None) -> UiUser | None:
    """The user of a valid session cookie whose key still exists, is not revoked, and may
    use the web app; else None."""
    payload = unsign(secret, cookie, SESSION_SECONDS)
    if payload is None or not isinstance(payload.get("k"), str):
        return None
    key = session.get(ApiKey, payload["k"])
    if key is None or key.revoked_at is not None or key.role not in UI_ROLES:
        return None
    return UiUser(key.key_id, key.name, key.role, csrf_token(secret, str(payload["n"])))


def csrf_matches(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected, received)
