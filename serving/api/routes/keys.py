"""Key management (admin keys only): create (token shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Request

from serving.api.deps import AdminCaller, SessionDep
from serving.api.schemas.common import ERROR_RESPONSES, ErrorOut
from serving.api.schemas.ops import KeyCreatedOut, KeyIn, KeyOut
from serving.keys import create_key, list_keys, revoke_key
from serving.logging import get_logger

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"], responses=ERROR_RESPONSES)
log = get_logger("keys")


@router.post("", response_model=KeyCreatedOut, status_code=201, summary="Create a key")
def create(body: KeyIn, session: SessionDep, caller: AdminCaller) -> KeyCreatedOut:
    issued = create_key(session, body.role, body.name)
    session.commit()
    log.info(
        "key created", extra={"key_id": issued.key_id, "role": issued.role, "by": caller.key_id}
    )
    return KeyCreatedOut(
        key_id=issued.key_id,
        role=issued.role,
        name=issued.name,
        created_at=issued.created_at,
        revoked_at=None,
        token=issued.token,
    )


@router.get("", response_model=list[KeyOut], summary="List keys (never their tokens)")
def list_all(session: SessionDep, caller: AdminCaller) -> list[KeyOut]:
    return [KeyOut.model_validate(key) for key in list_keys(session)]


@router.delete(
    "/{key_id}",
    response_model=KeyOut,
    responses={404: {"model": ErrorOut}},
    summary="Revoke a key (idempotent)",
)
def revoke(
    request: Request,
    session: SessionDep,
    caller: AdminCaller,
    key_id: str = Path(min_length=1, max_length=32),
) -> KeyOut:
    key = revoke_key(session, key_id)
    if key is None:
        raise HTTPException(404, detail=f"unknown key_id {key_id!r}")
    session.commit()
    request.app.state.key_cache.clear()
    log.info("key revoked", extra={"key_id": key_id, "by": caller.key_id})
    return KeyOut.model_validate(key)
