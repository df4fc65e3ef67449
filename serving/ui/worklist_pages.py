"""The worklist page and its CSV export (same filters, every page)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from serving.decide import today
from serving.ui.format import row_view
from serving.ui.pages import UserDep, here, page
from serving.worklist import WorklistFilter, iter_rows, read_worklist

router = APIRouter()
PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=64)]
CSV_COLUMNS = (
    "invoice_id customer_id customer amount currency due_date days_past_due p_late p_dispute "
    "pay_date_p50 pay_date_p10 pay_date_p90 owner assignee action tier amount_at_risk "
    "status last_action top_reason"
).split()


@dataclass
class FilterForm:
    """The worklist's filter fields, as the page's form sends them (empty means "any")."""

    owner: Text = None
    assignee: Text = None
    tier: Text = None
    status: Text = None
    customer: Text = None

    def fields(self) -> dict[str, str]:
        """Every field, empty strings for "any" (to fill the form again)."""
        return {name: getattr(self, name) or "" for name in FILTER_FIELDS}

    def wanted(self, page_number: int = 1) -> WorklistFilter:
        """The filter for page ``page_number``; values outside the known lists match nothing."""
        return WorklistFilter(
            owner=self.owner or None,
            assignee=(self.assignee or "").strip() or None,
            tier=self.tier or None,
            status=self.status or None,
            customer_id=(self.customer or "").strip() or None,
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )


FILTER_FIELDS = ("owner", "assignee", "tier", "status", "customer")
FilterDep = Annotated[FilterForm, Depends()]


@router.get("/worklist")
def worklist_page(
    request: Request,
    user: UserDep,
    form: FilterDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    wanted = form.wanted(page_number)
    state = request.app.state
    result = read_worklist(state.store.sessions, state.engines.current, state.live, wanted)
    if result.pending and getattr(state, "refresher", None) is not None:
        state.refresher.kick()
    filters = form.fields()
    return page(
        request,
        "worklist.html",
        user=user,
        rows=[row_view(r, result.as_of) for r in result.items],
        result=result,
        filters=filters,
        query=urlencode({k: v for k, v in filters.items() if v}),
        page_number=page_number,
        pages=max(1, -(-result.total // PAGE_SIZE)),
        here=here(request),
    )


def csv_lines(request: Request, wanted: WorklistFilter) -> Iterator[str]:
    """The header, then one line per item, read in chunks from the store."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    as_of = today()
    with request.app.state.store.sessions() as session:
        for n, row in enumerate(iter_rows(session, wanted)):
            body, view = row.decision, row_view(row, as_of)
            scores, priority = body["scores"], body["priority"]
            writer.writerow(
                [
                    row.invoice_id,
                    row.customer_id,
                    view.customer,
                    f"{row.amount:.2f}",
                    row.currency,
                    row.due_date.isoformat(),
                    view.days_past_due,
                    _number(scores.get("p_late")),
                    _number(scores.get("p_dispute")),
                    scores.get("pay_date_p50") or "",
                    scores.get("pay_date_p10") or "",
                    scores.get("pay_date_p90") or "",
                    body["owner"],
                    body.get("assignee") or "",
                    body["action"],
                    priority["tier"],
                    priority["amount_at_risk"],
                    row.status,
                    row.last_action or "",
                    view.reason,
                ]
            )
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


@router.get("/worklist.csv")
def worklist_csv(request: Request, user: UserDep, form: FilterDep) -> StreamingResponse:
    """Every item of the current filters, ranked, as CSV (stale items refreshed as for a page)."""
    wanted = form.wanted()
    state = request.app.state
    read_worklist(state.store.sessions, state.engines.current, state.live, wanted)
    name = f"worklist-{today().isoformat()}.csv"
    return StreamingResponse(
        csv_lines(request, wanted),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
