"""Invoices: how many each customer gets each month, when, for how much, on what terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.calendar import Calendar
from features.simulator.customers import Customers

LARGE_ORDER_SHARE = 0.04
MIN_AMOUNT = 5.0


@dataclass(frozen=True)
class Invoices:
    """All invoices as parallel arrays, sorted by issue day then customer.

    Attributes:
        customer: Customer number.
        month: Month of issue within the period.
        issue_day: Day number of issue.
        terms_days: Payment terms in days (the customer's).
        amount: Invoice amount, rounded to cents.
        paperless: Sent as a paperless (e-)invoice.
    """

    customer: np.ndarray
    month: np.ndarray
    issue_day: np.ndarray
    terms_days: np.ndarray
    amount: np.ndarray
    paperless: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)

    @property
    def due_day(self) -> np.ndarray:
        return self.issue_day + self.terms_days


def draw_invoices(
    customers: Customers, active: np.ndarray, calendar: Calendar, rng: np.random.Generator
) -> Invoices:
    """Poisson invoices per active customer-month, issued on uniform days of the month.

    Amounts are the customer's usual amount times a lognormal factor; a few orders are
    unusually large (three to eight times the usual).
    """
    counts = rng.poisson(customers.invoice_rate[:, None] * active)
    customer, month = np.nonzero(counts)
    repeats = counts[customer, month]
    customer, month = np.repeat(customer, repeats), np.repeat(month, repeats)
    issue_day = calendar.month_start[month] + rng.integers(0, calendar.month_length(month))
    order = np.lexsort((customer, issue_day))
    customer, month, issue_day = customer[order], month[order], issue_day[order]
    n = len(customer)
    size = rng.lognormal(-0.125, 0.5, n)
    size *= np.where(rng.random(n) < LARGE_ORDER_SHARE, rng.uniform(3.0, 8.0, n), 1.0)
    amount = np.maximum(np.round(customers.typical_amount[customer] * size, 2), MIN_AMOUNT)
    return Invoices(
        customer=customer,
        month=month,
        issue_day=issue_day,
        terms_days=customers.terms_days[customer],
        amount=amount,
        paperless=month >= customers.paperless_month[customer],
    )
