"""What every page of the web app shares: templates, the signed-in user, refusals, cookies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from serving.api.deps import SessionDep, SettingsDep
from serving.ui.format import OWNER_WORDS, STATUS_WORDS, money, percent, words
from serving.ui.session import SESSION_COOKIE, UiUser, csrf_matches, current_user

UI_DIR = Path(__file__).resolve().parent
STATIC_DIR = UI_DIR / "static"
templates = Jinja2Templates(directory=UI_DIR / "templates")
templates.env.filters.update(money=money, percent=percent, words=words)
templates.env.globals.update(OWNER_WORDS=OWNER_WORDS, STATUS_WORDS=STATUS_WORDS)


def here(request: Request) -> str:
    """The path and query of the request, to come back to after a sign-in or a form."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def signed_in(request: Request, session: SessionDep, settings: SettingsDep) -> UiUser:
    """The signed-in user; anyone else is sent to the sign-in page (303)."""
    user = current_user(session, settings.session_secret, request.cookies.get(SESSION_COOKIE))
    if user is None:
        where = "/ui/login?" + urlencode({"next": here(request)})
        raise HTTPException(303, detail="sign in first", headers={"Location": where})
    return user


UserDep = Annotated[UiUser, Depends(signed_in)]


def page(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    context = {**context, "status_code": status_code}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def refusal(request: Request, user: UiUser | None, status_code: int, message: str) -> HTMLResponse:
    """The error page: what was refused and why, with a way back."""
    return page(request, "error.html", status_code, user=user, message=message)


def csrf_refusal(request: Request, user: UiUser, received: str | None) -> HTMLResponse | None:
    """A 403 page when a form's CSRF token is not the session's, else None."""
    if csrf_matches(user.csrf, received):
        return None
    message = (
        "This form did not come from this site or your session changed (CSRF check). "
        "Nothing was recorded; reload the page and try again."
    )
    return refusal(request, user, 403, message)


def safe_next(target: str | None) -> str:
    """Only a path of this app, never another site."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/worklist"


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    """HttpOnly, SameSite=Strict, Secure over https, scoped to ``/ui``."""
    secure = request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=age, path="/ui", httponly=True, samesite="strict", secure=secure
    )
