"""The overview (receivables by aging bucket and owner, expected cash per week) and the admin
page (models, policy, API keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from serving.decide import today
from serving.freshness import count_stale
from serving.ui import charts, queries
from serving.ui.pages import UserDep, page, refusal

router = APIRouter()


@router.get("/overview")
def overview_page(
    request: Request,
    user: UserDep,
    currency: Annotated[str | None, Query(max_length=3)] = None,
) -> HTMLResponse:
    """One currency at a time (default: the largest outstanding); money is never summed
    across currencies."""
    as_of = today()
    with request.app.state.store.sessions() as session:
        book = queries.read_open_book(session)
    totals = charts.totals_by_currency(book)
    chosen = currency.upper() if currency and currency.upper() in totals else None
    chosen = chosen or next(iter(totals), None)
    figures = {}
    if chosen is not None:
        aging = charts.by_aging(book, chosen, as_of)
        owners = charts.by_owner(book, chosen)
        weeks = charts.cash_per_week(book, chosen, as_of)
        figures = {
            "aging": charts.bar_chart(aging, chosen, f"Receivables by aging bucket, {chosen}"),
            "owners": charts.bar_chart(owners, chosen, f"Receivables by owner, {chosen}"),
            "cash": charts.cash_chart(weeks, chosen, f"Expected cash per week, {chosen}"),
            "weeks": weeks,
        }
    return page(
        request,
        "overview.html",
        user=user,
        totals=totals,
        currency=chosen,
        figures=figures,
        as_of=as_of,
        open_count=len(book),
    )


@router.get("/admin")
def admin_page(request: Request, user: UserDep) -> HTMLResponse:
    """Models and policy in use, and the API keys (never a key's secret or hash)."""
    if not user.is_admin:
        return refusal(
            request, user, 403, "This page is for admin keys only; your key is a collector key."
        )
    state = request.app.state
    with state.store.sessions() as session:
        keys = queries.read_keys(session)
        pending = count_stale(session, today())
    return page(
        request,
        "admin.html",
        user=user,
        engine=state.engines.current,
        engine_error=state.engines.error,
        keys=keys,
        pending=pending,
    )
