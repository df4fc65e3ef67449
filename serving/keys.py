"""API keys: high-entropy tokens, of which only the SHA-256 is stored.

A token reads ``arb_<key_id>_<secret>``: the key id names the key in lists and logs, the secret
(32 random bytes) is what makes it valid. The token is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from serving.store.models import ApiKey

ROLES = ("service", "collector", "admin")
TOKEN_PREFIX = "arb_"
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is the only copy of the secret that will ever exist."""

    key_id: str
    role: str
    name: str | None
    token: str
    created_at: datetime


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id and its role."""

    key_id: str
    role: str


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(session: Session, role: str, name: str | None = None) -> IssuedKey:
    """Create and store a key of ``role``; commit is left to the caller.

    Raises:
        ValueError: ``role`` is not one of ``ROLES``.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    created_at = datetime.now(UTC)
    session.add(
        ApiKey(
            key_id=key_id, key_hash=hash_token(token), role=role, name=name, created_at=created_at
        )
    )
    return IssuedKey(key_id=key_id, role=role, name=name, token=token, created_at=created_at)


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, digest):
        return None
    return Principal(key_id=key.key_id, role=key.role)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (hashes included; callers show only ids and roles)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id)))


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    """Mark a key revoked (idempotent); None when there is no such key."""
    key = session.get(ApiKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        session.execute(
            update(ApiKey).where(ApiKey.key_id == key_id).values(revoked_at=datetime.now(UTC))
        )
        session.refresh(key)
    return key


class KeyCache:
    """Recently authenticated keys, by token hash, for ``ttl_seconds``.

    A revocation through this process clears the cache at once; one made elsewhere (the CLI,
    another process) takes effect within ``ttl_seconds``.
    """

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, tuple[Principal, float]] = {}

    def cached(self, token: str) -> Principal | None:
        """The principal of ``token`` while its cache entry is fresh, else None."""
        entry = self._entries.get(hash_token(token))
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    def authenticate(self, session: Session, token: str) -> Principal | None:
        """Like ``authenticate``, answered from the cache while an entry is fresh."""
        digest = hash_token(token)
        entry = self._entries.get(digest)
        now = time.monotonic()
        if entry is not None and entry[1] > now:
            return entry[0]
        principal = authenticate(session, token)
        if principal is not None:
            self._entries[digest] = (principal, now + self.ttl_seconds)
        return principal

    def clear(self) -> None:
        self._entries.clear()
