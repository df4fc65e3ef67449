"""Sign in with an API key (collector or admin) and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.api.deps import SessionDep, SettingsDep
from serving.keys import authenticate
from serving.ui.pages import page, refusal, safe_next, set_cookie
from serving.ui.session import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    UI_ROLES,
    csrf_matches,
    csrf_token,
    current_user,
    new_login,
    new_session,
    sign,
    unsign,
)

router = APIRouter()


def login_page(
    request: Request, secret: str, next_path: str, message: str | None, status_code: int
) -> HTMLResponse:
    """The sign-in form, with a fresh nonce cookie that its CSRF token is bound to."""
    login = new_login()
    response = page(
        request,
        "login.html",
        status_code,
        user=None,
        message=message,
        next=next_path,
        csrf=csrf_token(secret, str(login["n"]), "login"),
    )
    set_cookie(request, response, LOGIN_COOKIE, sign(secret, login), LOGIN_SECONDS)
    return response


@router.get("/login")
def login_form(request: Request, settings: SettingsDep, next: str | None = None) -> HTMLResponse:
    return login_page(request, settings.session_secret, safe_next(next), None, 200)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/ui/worklist",
) -> Response:
    secret = settings.session_secret
    pending = unsign(secret, request.cookies.get(LOGIN_COOKIE), LOGIN_SECONDS)
    if pending is None or not csrf_matches(csrf_token(secret, str(pending["n"]), "login"), csrf):
        message = (
            "The sign-in form expired or did not come from this site (CSRF check). "
            "Open the sign-in page again."
        )
        return refusal(request, None, 403, message)
    token = api_key.strip()
    principal = authenticate(session, token) if token else None
    if principal is None:
        message = "That API key is not valid: it is unknown or has been revoked."
        return login_page(request, secret, safe_next(next), message, 401)
    if principal.role not in UI_ROLES:
        message = (
            f"A {principal.role} key cannot sign in to the web app; use a collector or admin key."
        )
        return login_page(request, secret, safe_next(next), message, 403)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        sign(secret, new_session(principal.key_id)),
        SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Ends the session (the cookie is dropped); a forged sign-out is refused."""
    user = current_user(session, settings.session_secret, request.cookies.get(SESSION_COOKIE))
    if user is not None and not csrf_matches(user.csrf, csrf):
        return refusal(request, user, 403, "This form did not come from this site (CSRF check).")
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response
