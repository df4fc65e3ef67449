"""The overview's figures and their charts, drawn server-side as inline SVG (no script).

Money is never added across currencies: every figure is for one currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import escape

from serving.ui.format import OWNER_WORDS
from serving.ui.queries import OpenInvoice

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
OWNERS = ("finance", "revenue_owner", "joint", "none", None)
WEEKS = 13


def aging_bucket(due_date: date, as_of: date) -> str:
    """``current`` until due, then 1-30, 31-60, 61-90 and 90+ days past due."""
    late = (as_of - due_date).days
    if late <= 0:
        return "current"
    if late <= 30:
        return "1-30"
    if late <= 60:
        return "31-60"
    return "61-90" if late <= 90 else "90+"


def totals_by_currency(book: list[OpenInvoice]) -> dict[str, Decimal]:
    """Outstanding money per currency, largest first."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in book:
        totals[invoice.currency] += invoice.outstanding
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def by_aging(book: list[OpenInvoice], currency: str, as_of: date) -> list[tuple[str, Decimal]]:
    sums = dict.fromkeys(AGING_BUCKETS, Decimal(0))
    for invoice in book:
        if invoice.currency == currency:
            sums[aging_bucket(invoice.due_date, as_of)] += invoice.outstanding
    return list(sums.items())


def by_owner(book: list[OpenInvoice], currency: str) -> list[tuple[str, Decimal]]:
    sums = dict.fromkeys(OWNERS, Decimal(0))
    for invoice in book:
        if invoice.currency == currency:
            sums[invoice.owner if invoice.owner in sums else None] += invoice.outstanding
    return [(OWNER_WORDS.get(o, "Not decided yet"), v) for o, v in sums.items() if o or v]


@dataclass(frozen=True)
class CashWeek:
    """Cash expected in the week starting ``monday`` at the p50 dates, and the band spanned by
    the same invoices paid at their p10 (early) or p90 (late) dates."""

    monday: date
    p50: Decimal
    low: Decimal
    high: Decimal


def cash_per_week(book: list[OpenInvoice], currency: str, as_of: date) -> list[CashWeek]:
    """``WEEKS`` weeks from this one; a predicted date already past counts in this week."""
    first = as_of - timedelta(days=as_of.weekday())
    sums = {q: [Decimal(0)] * WEEKS for q in ("p10", "p50", "p90")}
    for invoice in book:
        if invoice.currency != currency or invoice.decision is None:
            continue
        for q, weeks in sums.items():
            text = invoice.decision["scores"].get(f"pay_date_{q}")
            if not text:
                continue
            week = max(0, (date.fromisoformat(text) - first).days // 7)
            if week < WEEKS:
                weeks[week] += invoice.outstanding
    return [
        CashWeek(
            first + timedelta(weeks=w),
            sums["p50"][w],
            min(sums["p10"][w], sums["p50"][w], sums["p90"][w]),
            max(sums["p10"][w], sums["p50"][w], sums["p90"][w]),
        )
        for w in range(WEEKS)
    ]


def short_money(value: Decimal | float) -> str:
    """``1.2M``, ``350k``, ``900``: axis and bar labels."""
    value = float(value)
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def bar_chart(bars: list[tuple[str, Decimal]], currency: str, title: str) -> str:
    """Horizontal bars with their values, as an ``<svg>`` element."""
    width, label_w, row_h, top = 560, 130, 30, 10
    height = top + row_h * len(bars) + 10
    peak = max((float(v) for _, v in bars), default=0.0) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for n, (label, value) in enumerate(bars):
        y = top + n * row_h
        length = (width - label_w - 110) * float(value) / peak
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" '
            f'class="bar"><title>{escape(label)}: {value:,.2f} {escape(currency)}</title></rect>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 19}">'
            f"{short_money(value)} {escape(currency)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def cash_chart(weeks: list[CashWeek], currency: str, title: str) -> str:
    """The p50 line over the p10-p90 band, one point per week, as an ``<svg>`` element."""
    width, height, left, bottom, top, right = 1100, 300, 70, 40, 12, 40
    peak = max((float(w.high) for w in weeks), default=0.0) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(weeks) - 1, 1)

    def x(n: int) -> float:
        return left + n * step

    def y(value: Decimal) -> float:
        return top + plot_h * (1 - float(value) / peak)

    upper = [f"{x(n):.1f},{y(w.high):.1f}" for n, w in enumerate(weeks)]
    lower = [f"{x(n):.1f},{y(w.low):.1f}" for n, w in reversed(list(enumerate(weeks)))]
    line = " ".join(f"{x(n):.1f},{y(w.p50):.1f}" for n, w in enumerate(weeks))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for fraction in (0, 0.5, 1):
        level = Decimal(str(peak * fraction))
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            f'class="grid"/><text x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end">'
            f"{short_money(level)}</text>"
        )
    parts.append(f'<polygon points="{" ".join(upper + lower)}" class="band"/>')
    parts.append(f'<polyline points="{line}" class="line"/>')
    for n, w in enumerate(weeks):
        tip = (
            f"week of {w.monday.isoformat()}: {w.p50:,.2f} {currency} at p50 "
            f"({w.low:,.2f} – {w.high:,.2f})"
        )
        parts.append(
            f'<circle cx="{x(n):.1f}" cy="{y(w.p50):.1f}" r="3" class="dot">'
            f"<title>{escape(tip)}</title></circle>"
        )
        if n % 2 == 0:
            parts.append(
                f'<text x="{x(n):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                f"{w.monday.strftime('%d %b')}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
