"""Operational and commercial context: price changes, support tickets, owners, order problems.

These are the observable causes of disputes. Each mechanism draws events for all customers
at once from the customer's latent traits; none of them depends on payments, so they can
be drawn before the invoices' outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.calendar import Calendar
from features.simulator.config import OperationsParams
from features.simulator.customers import Customers


@dataclass(frozen=True)
class CustomerEvents:
    """Dated events of customers (not tied to an invoice), as parallel arrays.

    Attributes:
        customer: Customer number of each event.
        day: Day number of each event.
        value: Event payload (price change in percent, ticket closing day, new owner...).
    """

    customer: np.ndarray
    day: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class OrderProblems:
    """Problems on each invoice's order, recorded before the invoice is issued.

    Attributes:
        delivery: The order was delivered incomplete.
        quality: The goods had a quality problem.
        pricing: The order was priced inconsistently with the customer's price list.
        delivery_day, quality_day, pricing_day: Day each problem was recorded.
    """

    delivery: np.ndarray
    quality: np.ndarray
    pricing: np.ndarray
    delivery_day: np.ndarray
    quality_day: np.ndarray
    pricing_day: np.ndarray


def active_months(customers: Customers, insolvent_month: np.ndarray, months: int) -> np.ndarray:
    """Whether each customer trades in each month (created before it, not yet insolvent)."""
    month = np.arange(months)
    alive = (insolvent_month < 0)[:, None] | (month[None, :] < insolvent_month[:, None])
    return (month[None, :] > customers.created_month[:, None]) & alive


def _day_in_month(calendar: Calendar, month: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return calendar.month_start[month] + rng.integers(0, calendar.month_length(month))


def draw_price_changes(
    active: np.ndarray, params: OperationsParams, calendar: Calendar, rng: np.random.Generator
) -> CustomerEvents:
    """Price changes: each active customer-month has one with a fixed chance; value is %."""
    happens = active & (rng.random(active.shape) < params.price_change_monthly_rate)
    customer, month = np.nonzero(happens)
    percent = np.round(rng.uniform(2.0, 9.0, len(customer)), 1)
    return CustomerEvents(customer, _day_in_month(calendar, month, rng), percent)


def draw_support_tickets(
    active: np.ndarray,
    customers: Customers,
    params: OperationsParams,
    calendar: Calendar,
    rng: np.random.Generator,
) -> CustomerEvents:
    """Support tickets: Poisson per customer-month; value is the day the ticket closes."""
    rate = np.asarray(params.tickets_per_month)[customers.segment] * customers.problem_factor
    counts = rng.poisson(rate[:, None] * active)
    customer, month = np.nonzero(counts)
    repeats = counts[customer, month]
    customer, month = np.repeat(customer, repeats), np.repeat(month, repeats)
    opened = _day_in_month(calendar, month, rng)
    stays_open = rng.geometric(1.0 / params.ticket_mean_days, len(customer))
    order = np.lexsort((opened, customer))
    return CustomerEvents(customer[order], opened[order], (opened + stays_open)[order])


def draw_owner_changes(
    active: np.ndarray,
    customers: Customers,
    owners: int,
    rate: float,
    calendar: Calendar,
    rng: np.random.Generator,
) -> CustomerEvents:
    """Revenue owner changes; value is the new owner, always different from the previous."""
    happens = active & (rng.random(active.shape) < rate)
    happens[:, 0] = False
    customer, month = np.nonzero(happens)
    day = _day_in_month(calendar, month, rng)
    order = np.lexsort((day, customer))
    customer, day = customer[order], day[order]
    new_owner = np.zeros(len(customer), dtype=np.int64)
    current = customers.revenue_owner.copy()
    rank = np.arange(len(customer)) - np.searchsorted(customer, customer, side="left")
    for round_ in range(int(rank.max(initial=-1)) + 1):
        pick = rank == round_
        who = customer[pick]
        shift = 1 + rng.integers(0, max(owners - 1, 1), len(who))
        new_owner[pick] = (current[who] + shift) % owners if owners > 1 else current[who]
        current[who] = new_owner[pick]
    return CustomerEvents(customer, day, new_owner)


def current_owner(customers: Customers, changes: CustomerEvents) -> np.ndarray:
    """Each customer's revenue owner after its last change."""
    owner = customers.revenue_owner.copy()
    last = np.r_[changes.customer[1:] != changes.customer[:-1], True] if len(changes) else []
    owner[changes.customer[last]] = changes.value[last]
    return owner


def draw_order_problems(
    customer: np.ndarray,
    issue_day: np.ndarray,
    recent_price_change: np.ndarray,
    customers: Customers,
    params: OperationsParams,
    rng: np.random.Generator,
) -> OrderProblems:
    """Problems on each invoice's order, recorded 1-5 days before issue (at delivery)."""
    n = len(customer)
    factor = customers.problem_factor[customer]
    delivery = rng.random(n) < np.minimum(params.delivery_problem_rate * factor, 0.9)
    quality = rng.random(n) < np.minimum(params.quality_problem_rate * factor, 0.9)
    pricing_rate = np.where(
        recent_price_change,
        params.pricing_discrepancy_after_change,
        params.pricing_discrepancy_base,
    )
    pricing = rng.random(n) < pricing_rate
    return OrderProblems(
        delivery=delivery,
        quality=quality,
        pricing=pricing,
        delivery_day=issue_day - rng.integers(1, 6, n),
        quality_day=issue_day - rng.integers(1, 6, n),
        pricing_day=issue_day - rng.integers(1, 4, n),
    )
