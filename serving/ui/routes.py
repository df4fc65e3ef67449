"""The web app's router: every page under ``/ui``, left out of the API's OpenAPI schema.

Pages are server-rendered; the only asset is a stylesheet served from ``STATIC_DIR``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from serving.ui import auth, invoice_pages, overview_pages, worklist_pages
from serving.ui.pages import STATIC_DIR

__all__ = ["STATIC_DIR", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/worklist", status_code=303)


for pages in (auth, worklist_pages, invoice_pages, overview_pages):
    router.include_router(pages.router)
