"""Feature values of one invoice at day ``t`` from the online state, family by family.

Each function mirrors an offline builder of ``features.families`` and fills ``out`` with the
same names and the same values (NaN where the offline path gives NaN).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable

from features.online_state import NEVER, CustomerState, InvoiceState, sorted_quantile
from features.registry import RECENT_DAYS, RECENT_PAYMENTS, YEAR_DAYS
from features.schema import DISPUTE_REASONS as REASONS

NAN = math.nan
NO_DAYS: list[int] = []
REASON_NAMES = tuple(f"disp_n_{reason}" for reason in REASONS)
ORDER_PROBLEMS = (
    ("rel_order_delivery_problem", "delivery_incomplete"),
    ("rel_order_quality_problem", "quality_issue"),
)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else NAN


def _optional_bool(value: object) -> float:
    return NAN if value is None else float(bool(value))


def invoice_family(c: CustomerState, inv: InvoiceState, t: int, out: dict) -> None:
    out["amount"] = inv.amount
    out["inv_terms_days"] = inv.due - inv.issue
    out["inv_issue_month"] = inv.issue_month
    out["inv_due_day_of_month"] = inv.due_day_of_month
    out["inv_due_month"] = inv.due_month
    out["inv_issue_month_end"] = float(inv.month_end)
    out["inv_paperless"] = _optional_bool(inv.paperless)
    usual = c.median_cache.get(inv.invoice_id)
    if usual is None:
        k = bisect_left(c.issued.days, inv.issue)
        usual = sorted_quantile(sorted(c.issued_amounts[:k]), 0.5) if k else NAN
        c.median_cache[inv.invoice_id] = usual
    out["inv_amount_vs_usual"] = inv.cents / 100 / usual
    n = sum(1 for d in inv.disputes if d.opened < t)
    open_now = [d for d in inv.disputes if d.opened < t and not d.resolved < t]
    out["inv_disputes"] = n
    out["inv_dispute_open"] = float(bool(open_now))
    latest = max(open_now, key=lambda d: (d.opened, d.dispute_id)) if open_now else None
    out["inv_dispute_reason"] = NAN if latest is None else latest.reason


def customer_family(c: CustomerState, inv: InvoiceState | None, t: int, out: dict) -> None:
    out["cust_segment"] = NAN if c.segment is None else c.segment
    out["cust_strategic"] = _optional_bool(c.strategic)
    out["cust_credit_limit"] = NAN if c.credit_limit is None else c.credit_limit
    created = c.created
    out["cust_tenure_days"] = NAN if created is None or created > t else t - created
    out["cust_legal_hold"] = float(c.first_flag.get("legal_hold", NEVER) < t)
    out["cust_insolvent"] = float(c.first_flag.get("insolvency", NEVER) < t)


def history_family(c: CustomerState, inv: InvoiceState | None, t: int, out: dict) -> None:
    paid = c.paid
    n = bisect_left(paid.days, t)
    late, days_late, cents, late_cents, days_to_pay, partial, late30 = paid.at(n)
    out["hist_n_invoices"] = bisect_left(c.issued.days, t)
    out["hist_n_paid"] = n
    out["hist_n_late"] = late
    out["hist_late_share"] = _ratio(late, n)
    out["hist_late_share_amount"] = _ratio(late_cents, cents)
    mean = _ratio(days_late, n)
    out["hist_days_late_mean"] = mean
    out["hist_days_to_pay_mean"] = _ratio(days_to_pay, n)
    out["hist_partial_share"] = _ratio(partial, n)
    out["hist_late30_share"] = _ratio(late30, n)
    before = bisect_left(paid.days, t - RECENT_DAYS)
    earlier_late, earlier_days = paid.sums[0][before], paid.sums[1][before]
    out["hist_late_share_90d"] = _ratio(late - earlier_late, n - before)
    out["hist_days_late_mean_90d"] = _ratio(days_late - earlier_days, n - before)
    if n == 0:
        for name in ("median", "p90", "ewm", "mean_last5", "trend"):
            out[f"hist_days_late_{name}"] = NAN
        out["hist_late_share_last5"] = NAN
        out["hist_days_since_last_late"] = NAN
        out["hist_days_since_last_paid"] = NAN
        return
    window_start = max(n - RECENT_PAYMENTS, 0)
    last = n - window_start
    out["hist_late_share_last5"] = (late - paid.sums[0][window_start]) / last
    recent_mean = (days_late - paid.sums[1][window_start]) / last
    out["hist_days_late_mean_last5"] = recent_mean
    out["hist_days_late_trend"] = recent_mean - mean
    out["hist_days_late_ewm"] = c.ewm[n - 1]
    last_late = c.last_late[n - 1]
    out["hist_days_since_last_late"] = NAN if last_late == -NEVER else t - last_late
    out["hist_days_since_last_paid"] = t - paid.days[n - 1]
    out["hist_days_late_median"], out["hist_days_late_p90"] = _days_late_quantiles(c, n)


def _days_late_quantiles(c: CustomerState, n: int) -> tuple[float, float]:
    """Median and p90 of days late over the first ``n`` paid invoices."""
    if n == len(c.paid.days):
        values = c.late_sorted
    else:
        cached = c.quantiles.get(n)
        if cached is not None:
            return cached
        values = sorted(c.paid.columns[1][:n])
    result = (sorted_quantile(values, 0.5), sorted_quantile(values, 0.9))
    if n < len(c.paid.days):
        c.quantiles[n] = result
    return result


def exposure_family(c: CustomerState, inv: InvoiceState | None, t: int, out: dict) -> None:
    open_cents, open_count = c.open_ledger.total(t)
    overdue_cents, overdue_count = c.overdue_ledger.total(t)
    out["exp_open_count"] = open_count
    out["exp_open_balance"] = open_cents / 100
    out["exp_overdue_count"] = overdue_count
    out["exp_overdue_balance"] = overdue_cents / 100
    out["exp_overdue_share"] = _ratio(overdue_cents / 100, open_cents / 100)
    due_before = bisect_left(c.due_keys, (t, ""))
    first_unpaid = bisect_left(c.reach, t)
    oldest = first_unpaid < due_before
    out["exp_oldest_overdue_days"] = t - c.due_keys[first_unpaid][0] if oldest else NAN
    limit = c.credit_limit
    usable = limit is not None and limit > 0
    out["exp_credit_use"] = open_cents / 100 / limit if usable else NAN


def dispute_family(c: CustomerState, inv: InvoiceState | None, t: int, out: dict) -> None:
    opened = c.opened
    n = bisect_left(opened.days, t)
    counts = opened.at(n)
    out["disp_n"] = n
    out["disp_n_365d"] = n - bisect_left(opened.days, t - YEAR_DAYS)
    out["disp_open_count"] = n - bisect_left(c.resolved_days, t)
    out["disp_days_since_last"] = t - opened.days[n - 1] if n else NAN
    out["disp_per_invoice"] = _ratio(n, bisect_left(c.issued.days, t))
    for name, count in zip(REASON_NAMES, counts, strict=True):
        out[name] = count
    # index() finds the first maximum: ties go to the earlier reason
    out["cust_dispute_top_reason"] = counts.index(max(counts)) if n else NAN


def relationship_family(c: CustomerState, inv: InvoiceState | None, t: int, out: dict) -> None:
    days = c.activity_days
    opened = days.get("support_ticket_opened", NO_DAYS)
    n_opened = bisect_left(opened, t)
    closed = bisect_left(days.get("support_ticket_closed", NO_DAYS), t)
    out["rel_open_tickets"] = n_opened - closed
    out["rel_tickets_30d"] = n_opened - bisect_left(opened, t - 30)
    out["rel_tickets_90d"] = n_opened - bisect_left(opened, t - 90)
    pricing = days.get("pricing", NO_DAYS)
    out["rel_pricing_discrepancy_90d"] = float(
        bisect_left(pricing, t - 90) < bisect_left(pricing, t)
    )
    contacts = days.get("contact", NO_DAYS)
    n_contacts = bisect_left(contacts, t)
    out["rel_days_since_contact"] = t - contacts[n_contacts - 1] if n_contacts else NAN
    owners = days.get("owner_change", NO_DAYS)
    out["rel_owner_changes_365d"] = bisect_left(owners, t) - bisect_left(owners, t - YEAR_DAYS)
    escalations = days.get("escalation", NO_DAYS)
    out["rel_escalations_90d"] = bisect_left(escalations, t) - bisect_left(escalations, t - 90)
    out["rel_promises_made"] = bisect_left(days.get("promise_to_pay", NO_DAYS), t)
    out["rel_promises_kept"] = bisect_left(days.get("kept_promise", NO_DAYS), t)
    broken = days.get("broken_promise", NO_DAYS)
    n_broken = bisect_left(broken, t)
    out["rel_promises_broken"] = n_broken
    out["rel_broken_promises_90d"] = n_broken - bisect_left(broken, t - 90)


def order_family(c: CustomerState, inv: InvoiceState, t: int, out: dict) -> None:
    for name, kind in ORDER_PROBLEMS:
        first = inv.problems.get(kind, NEVER)
        if inv.order_id is not None:
            first = min(first, c.order_problems.get((kind, inv.order_id), NEVER))
        out[name] = float(first < t)


def lifecycle_family(c: CustomerState, inv: InvoiceState, t: int, out: dict) -> None:
    out["days_past_due"] = t - inv.due
    out["life_days_since_issue"] = t - inv.issue
    if inv.paid < t:
        out["life_paid_share"] = 1.0
    else:
        out["life_paid_share"] = sum(c for d, c in inv.payments if d < t) / inv.cents


Family = Callable[..., None]
# Families that depend on the customer and t only, so one answer serves every invoice of the
# customer at the same t; then those that depend on the invoice too.
CUSTOMER_FAMILIES: dict[str, Family] = {
    "cust": customer_family,
    "hist": history_family,
    "exp": exposure_family,
    "disp": dispute_family,
    "rel": relationship_family,
}
INVOICE_FAMILIES: dict[str, Family] = {
    "inv": invoice_family,
    "order": order_family,
    "life": lifecycle_family,
}
FAMILIES: dict[str, Family] = {**CUSTOMER_FAMILIES, **INVOICE_FAMILIES}
# Features whose name prefix is not the family that computes them.
OWNER = {
    "amount": "inv",
    "days_past_due": "life",
    "cust_dispute_top_reason": "disp",
    "rel_order_delivery_problem": "order",
    "rel_order_quality_problem": "order",
}


def _needed(names: list[str]) -> set[str]:
    return {OWNER.get(name, name.split("_")[0]) for name in names}


def families_for(names: list[str]) -> tuple[list[Family], list[Family]]:
    """The customer-level and the invoice-level family functions needed for ``names``."""
    needed = _needed(names)
    return (
        [f for family, f in CUSTOMER_FAMILIES.items() if family in needed],
        [f for family, f in INVOICE_FAMILIES.items() if family in needed],
    )
