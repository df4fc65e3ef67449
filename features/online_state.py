"""Incremental per-customer state behind the online features.

Everything is kept as small sorted Python lists per customer, with running sums beside them,
so that "how many events before t" is one ``bisect`` and an aggregate at t is one look-up.
Events may arrive in any order: an insertion in the middle only recomputes the running sums
after it. Money is kept in integer cents, as in the offline path.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from itertools import accumulate

from features.registry import EWM_ALPHA, LONG_LATE_DAYS

NEVER = (1 << 17) - 1
COUNTED_KINDS = (
    "support_ticket_opened",
    "support_ticket_closed",
    "contact",
    "owner_change",
    "escalation",
    "promise_to_pay",
    "broken_promise",
    "pricing",
    "kept_promise",
)
PRICING_KINDS = ("price_change", "pricing_discrepancy")
PROBLEM_KINDS = ("delivery_incomplete", "quality_issue")
FLAG_KINDS = ("legal_hold", "insolvency")


class SumStream:
    """Dated rows of integers with running sums, rows ordered by (day, tie-break key).

    Rows are inserted in place; running sums are brought up to date lazily, from the first
    row inserted since the last read, so that ingesting a burst of events stays cheap.
    """

    __slots__ = ("days", "keys", "columns", "sums", "clean")

    def __init__(self, width: int, keyed: bool = False) -> None:
        self.days: list[int] = []
        self.keys: list[tuple] | None = [] if keyed else None
        self.columns: list[list[int]] = [[] for _ in range(width)]
        self.sums: list[list[int]] = [[0] for _ in range(width)]
        self.clean = 0

    def add(self, day: int, row: tuple, key: object = None) -> int:
        """Insert a row; returns its position."""
        if self.keys is None:
            position = bisect_right(self.days, day)
        else:
            position = bisect_right(self.keys, (day, key))
            self.keys.insert(position, (day, key))
        self.days.insert(position, day)
        for column, value in zip(self.columns, row, strict=True):
            column.insert(position, value)
        self.clean = min(self.clean, position)
        return position

    def count(self, t: int) -> int:
        """Rows dated before ``t``."""
        return bisect_left(self.days, t)

    def at(self, k: int) -> list[int]:
        """Column sums over the first ``k`` rows."""
        if k > self.clean:
            self._refresh()
        return [sums[k] for sums in self.sums]

    def total(self, t: int) -> list[int]:
        """Column sums over the rows dated before ``t``."""
        return self.at(bisect_left(self.days, t))

    def _refresh(self) -> None:
        start = self.clean
        for column, sums in zip(self.columns, self.sums, strict=True):
            base = sums[start]
            del sums[start:]
            sums.extend(accumulate(column[start:], initial=base))
        self.clean = len(self.days)


def sorted_quantile(values: list[float], q: float) -> float:
    """Quantile of sorted ``values`` by linear interpolation (as pandas and NumPy define it)."""
    position = q * (len(values) - 1)
    low = int(position)
    fraction = position - low
    if fraction == 0 or low + 1 >= len(values):
        return float(values[low])
    return values[low] + (values[low + 1] - values[low]) * fraction


@dataclass
class Dispute:
    dispute_id: str
    invoice_id: str
    opened: int
    reason: int
    resolved: int = NEVER


@dataclass
class InvoiceState:
    """What is known of one invoice (all dates as day numbers, money in cents)."""

    invoice_id: str
    customer_id: str
    issue: int
    due: int
    amount: float
    cents: int
    order_id: str | None
    paperless: bool | None
    issue_month: int
    due_day_of_month: int
    due_month: int
    month_end: bool
    paid: int = NEVER
    payments: list[tuple[int, int]] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)
    promises: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass
class CustomerState:
    """Running per-customer aggregates, each answerable at any t by bisection."""

    customer_id: str
    segment: int | None = None
    strategic: bool | None = None
    credit_limit: float | None = None
    created: int | None = None
    # issued invoices: (amount,) by (issue day, invoice_id)
    issued: SumStream = field(default_factory=lambda: SumStream(0, keyed=True))
    issued_amounts: list[float] = field(default_factory=list)
    # amounts of the first ``prior_count`` issued invoices, sorted (for running medians)
    prior_sorted: list[float] = field(default_factory=list)
    prior_count: int = 0
    # paid invoices: (late, days_late, cents, late_cents, days_to_pay, partial, late30) by
    # (paid day, invoice_id)
    paid: SumStream = field(default_factory=lambda: SumStream(7, keyed=True))
    late_sorted: list[int] = field(default_factory=list)
    ewm: list[float] = field(default_factory=list)
    last_late: list[int] = field(default_factory=list)
    quantiles: dict[int, tuple[float, float]] = field(default_factory=dict)
    # balances: (cents, count) changes by the day they apply
    open_ledger: SumStream = field(default_factory=lambda: SumStream(2))
    overdue_ledger: SumStream = field(default_factory=lambda: SumStream(2))
    # invoices in due order, with the running maximum of their paid days
    due_keys: list[tuple[int, str]] = field(default_factory=list)
    due_paid: list[int] = field(default_factory=list)
    reach: list[int] = field(default_factory=list)
    # disputes: one-hot reason rows by opened day; resolved days
    opened: SumStream = field(default_factory=lambda: SumStream(6, keyed=True))
    resolved_days: list[int] = field(default_factory=list)
    activity_days: dict[str, list[int]] = field(default_factory=dict)
    first_flag: dict[str, int] = field(default_factory=dict)
    order_problems: dict[tuple[str, str], int] = field(default_factory=dict)
    median_cache: dict[str, float] = field(default_factory=dict)
    # every update bumps the version; ``answer`` = (t, version, customer-level values)
    version: int = 0
    answer: tuple[int, int, dict[str, float]] | None = None

    def add_issued(self, invoice: InvoiceState) -> None:
        position = self.issued.add(invoice.issue, (), invoice.invoice_id)
        self.issued_amounts.insert(position, invoice.cents / 100)
        if position < len(self.issued_amounts) - 1:
            self.median_cache.clear()
            self.prior_sorted, self.prior_count = [], 0
        else:
            self.median_cache[invoice.invoice_id] = self._median_before(invoice.issue)
        self.open_ledger.add(invoice.issue, (invoice.cents, 1))
        self.overdue_ledger.add(invoice.due, (invoice.cents, 1))
        position = bisect_right(self.due_keys, (invoice.due, invoice.invoice_id))
        self.due_keys.insert(position, (invoice.due, invoice.invoice_id))
        self.due_paid.insert(position, NEVER)
        self.reach.insert(position, NEVER)
        self._update_reach(position)

    def refresh(self) -> None:
        for stream in (self.issued, self.paid, self.open_ledger, self.overdue_ledger, self.opened):
            stream.at(len(stream.days))

    def _median_before(self, day: int) -> float:
        """Median amount of the invoices issued before ``day`` (appended in issue order)."""
        days, amounts = self.issued.days, self.issued_amounts
        while self.prior_count < len(days) and days[self.prior_count] < day:
            insort(self.prior_sorted, amounts[self.prior_count])
            self.prior_count += 1
        values = self.prior_sorted
        return sorted_quantile(values, 0.5) if values else math.nan

    def add_payment(self, invoice: InvoiceState, day: int, cents: int) -> None:
        self.open_ledger.add(day, (-cents, 0))
        self.overdue_ledger.add(max(day, invoice.due), (-cents, 0))

    def add_paid(self, invoice: InvoiceState) -> None:
        day = invoice.paid
        settling = [cents for paid_on, cents in invoice.payments if paid_on <= day]
        residual = invoice.cents - sum(settling)
        self.open_ledger.add(day, (-residual, -1))
        self.overdue_ledger.add(max(day, invoice.due), (-residual, -1))
        days_late = day - invoice.due
        late = int(days_late > 0)
        partial = int(len(settling) > 1)
        late30 = int(days_late > LONG_LATE_DAYS)
        cents = invoice.cents
        row = (late, days_late, cents, cents * late, day - invoice.issue, partial, late30)
        position = self.paid.add(day, row, invoice.invoice_id)
        insort(self.late_sorted, days_late)
        self._update_paid_prefix(position)
        position = bisect_left(self.due_keys, (invoice.due, invoice.invoice_id))
        self.due_paid[position] = day
        self._update_reach(position)

    def _update_paid_prefix(self, position: int) -> None:
        del self.ewm[position:]
        del self.last_late[position:]
        self.quantiles = {k: v for k, v in self.quantiles.items() if k <= position}
        lates, days_lates = self.paid.columns[0], self.paid.columns[1]
        for late, days_late, day in zip(
            lates[position:], days_lates[position:], self.paid.days[position:], strict=True
        ):
            previous = self.ewm[-1] if self.ewm else float(days_late)
            self.ewm.append((1 - EWM_ALPHA) * previous + EWM_ALPHA * days_late)
            before = self.last_late[-1] if self.last_late else -NEVER
            self.last_late.append(max(before, day) if late else before)

    def _update_reach(self, position: int) -> None:
        for i in range(position, len(self.due_paid)):
            before = self.reach[i - 1] if i else -NEVER
            value = max(before, self.due_paid[i])
            if i > position and value == self.reach[i]:
                break
            self.reach[i] = value

    def add_activity(self, kind: str, day: int) -> None:
        if kind in PRICING_KINDS:
            kind = "pricing"
        if kind in FLAG_KINDS:
            self.first_flag[kind] = min(self.first_flag.get(kind, NEVER), day)
        if kind in COUNTED_KINDS:
            days = self.activity_days.setdefault(kind, [])
            days.insert(bisect_right(days, day), day)
