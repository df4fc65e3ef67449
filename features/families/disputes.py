"""Offline builders: the customer's dispute history and disputes on the scored invoice."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.families.base import id_rank, ledger, nan_where, ratio
from features.families.invoice import issued_timeline
from features.registry import YEAR_DAYS
from features.schema import DISPUTE_REASONS
from features.timeline import NEVER, Timeline, to_days

if TYPE_CHECKING:
    from features.offline import Context


def _disputes(context: Context) -> pd.DataFrame:
    """Disputes with their invoice position, customer code, opened and resolved days."""

    def make() -> pd.DataFrame:
        frame = context.table("disputes")
        invoice = context.invoice_positions(frame["invoice_id"])
        return pd.DataFrame(
            {
                "dispute_id": frame["dispute_id"].to_numpy(),
                "invoice": invoice,
                "customer": ledger(context).customer[invoice],
                "opened": to_days(frame["opened_date"]),
                "resolved": to_days(frame["resolved_date"], NEVER),
                "reason": pd.Categorical(frame["reason"], categories=DISPUTE_REASONS).codes,
            }
        )

    return context.memo("disputes", make)


def _timelines(context: Context, key: str) -> tuple[Timeline, Timeline]:
    """Disputes by opened day and by resolved day, grouped by ``key`` (customer or invoice)."""

    def make() -> tuple[Timeline, Timeline]:
        d = _disputes(context)
        columns = {"reason": d["reason"].to_numpy()}
        rank = id_rank(d["dispute_id"].to_numpy())
        opened = Timeline.build(d[key].to_numpy(), d["opened"].to_numpy(), columns, rank)
        done = d[d["resolved"] != NEVER]
        resolved = Timeline.build(done[key].to_numpy(), done["resolved"].to_numpy())
        return opened, resolved

    return context.memo(f"disputes:{key}", make)


def build_disputes(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Dispute counts, windows, open now, reason mix and recency for the customer."""
    q = context.queries
    opened, resolved = _timelines(context, "customer")
    pos, n = opened.locate(q.customer, q.t)
    out = {
        "disp_n": n,
        "disp_n_365d": n - opened.count_before(q.customer, q.t - YEAR_DAYS),
        "disp_open_count": n - resolved.count_before(q.customer, q.t),
        "disp_days_since_last": q.t - opened.at(opened.day, pos, n),
        "disp_per_invoice": ratio(n, issued_timeline(context).count_before(q.customer, q.t)),
    }
    reason = opened.columns["reason"]
    counts = (
        np.column_stack(
            [
                opened.at(opened.cumulative(reason == r), pos, n, 0.0)
                for r in range(len(DISPUTE_REASONS))
            ]
        )
        if len(q)
        else np.zeros((0, len(DISPUTE_REASONS)))
    )
    for r, label in enumerate(DISPUTE_REASONS):
        out[f"disp_n_{label}"] = counts[:, r]
    out["cust_dispute_top_reason"] = nan_where(n == 0, np.argmax(counts, axis=1) if len(q) else n)
    return {k: v for k, v in out.items() if k in names}


def build_invoice_disputes(context: Context, names: set[str]) -> dict[str, np.ndarray]:
    """Disputes on the scored invoice: count, open now, reason of the latest open one."""
    q = context.queries
    opened, resolved = _timelines(context, "invoice")
    n = opened.count_before(q.invoice, q.t)
    open_now = n - resolved.count_before(q.invoice, q.t)
    return {
        "inv_disputes": n,
        "inv_dispute_open": open_now > 0,
        "inv_dispute_reason": _open_reason(context),
    }


def _open_reason(context: Context) -> np.ndarray:
    q, d = context.queries, _disputes(context)
    rows = pd.DataFrame({"row": np.arange(len(q)), "invoice": q.invoice, "t": q.t})
    pairs = rows.merge(d, on="invoice", how="inner")
    pairs = pairs[(pairs["opened"] < pairs["t"]) & ~(pairs["resolved"] < pairs["t"])]
    latest = pairs.sort_values(["row", "opened", "dispute_id"]).drop_duplicates("row", keep="last")
    out = np.full(len(q), np.nan)
    out[latest["row"].to_numpy()] = latest["reason"].to_numpy()
    return out
