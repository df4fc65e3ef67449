"""Turn the simulated world into the canonical book's tables, truncated at as_of.

Only observable facts reach the tables: latent traits stay in ``World`` and the oracle.
Every event dated on or after as_of is left out, as is every payment or resolution on or
after the customer's insolvency; an invoice is paid (``paid_date``) on the day payments and
credit notes first cover its amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.schema import DISPUTE_REASONS, DISPUTE_RESOLUTIONS, SEGMENTS
from features.simulator.activities import activities_table
from features.simulator.calendar import NEVER, Calendar
from features.simulator.collections import CollectionActivities
from features.simulator.config import SimulationConfig
from features.simulator.customers import (
    COUNTRIES,
    CURRENCY_BY_COUNTRY,
    INDUSTRIES,
    Customers,
    count_staff,
    credit_limits,
    customer_names,
)
from features.simulator.disputes import PAID_RESOLUTIONS, DisputeDraws
from features.simulator.ids import make_ids
from features.simulator.invoices import Invoices
from features.simulator.operations import CustomerEvents, OrderProblems, current_owner
from features.simulator.payments import PaymentState


@dataclass
class World:
    """Everything the mechanisms drew, observable or latent; filled in causal order.

    Customer-side arrays are of shape (customers,) or (customers, months): ``health`` is the
    state in each month, ``insolvent_month`` the first insolvent month (-1: never),
    ``active`` whether the customer trades in the month. Invoice-side arrays are of shape
    (invoices,): ``settle_delay`` is the days from issue to settlement had the customer
    stayed solvent, ``settled_day`` the day of settlement or ``NEVER``.
    """

    config: SimulationConfig
    calendar: Calendar
    customers: Customers
    health: np.ndarray
    insolvent_month: np.ndarray
    active: np.ndarray
    price_changes: CustomerEvents
    tickets: CustomerEvents
    owner_changes: CustomerEvents
    invoices: Invoices | None = None
    recent_price_change: np.ndarray | None = None
    problems: OrderProblems | None = None
    dispute_rates: np.ndarray | None = None
    disputes: DisputeDraws | None = None
    open_disputes: np.ndarray | None = None
    friction: np.ndarray | None = None
    payment_state: PaymentState | None = None
    settle_delay: np.ndarray | None = None
    settled_day: np.ndarray | None = None
    collections: CollectionActivities | None = None
    oracle: pd.DataFrame | None = None

    @cached_property
    def health_at_issue(self) -> np.ndarray:
        return self.health[self.invoices.customer, self.invoices.month]

    @cached_property
    def insolvency_day(self) -> np.ndarray:
        """Day each customer files for insolvency, or ``NEVER``."""
        month = np.maximum(self.insolvent_month, 0)
        day = self.calendar.month_start[month] + self.config.health.insolvency_day - 1
        return np.where(self.insolvent_month >= 0, day, NEVER)

    @cached_property
    def customer_ids(self) -> np.ndarray:
        return make_ids("C", self.customers.n)

    @cached_property
    def invoice_ids(self) -> np.ndarray:
        return make_ids("INV-", len(self.invoices))

    @cached_property
    def order_ids(self) -> np.ndarray:
        return make_ids("SO-", len(self.invoices))


def build_tables(world: World, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The book's five canonical tables."""
    return {
        "customers": customers_table(world, rng),
        "invoices": invoices_table(world),
        "payments": payments_table(world, rng),
        "disputes": disputes_table(world),
        "activities": activities_table(world),
    }


def _dates(world: World, days: np.ndarray) -> np.ndarray:
    """Dates of day numbers, NaT for days on or after as_of (unknown at extraction)."""
    days = np.where(days >= world.calendar.as_of_day, NEVER, days)
    return world.calendar.to_dates(days)


def customers_table(world: World, rng: np.random.Generator) -> pd.DataFrame:
    customers, params = world.customers, world.config.customer
    owner = current_owner(customers, world.owner_changes)
    owners = count_staff(customers.n, params.customers_per_revenue_owner)
    collectors = count_staff(customers.n, params.customers_per_collector)
    return pd.DataFrame(
        {
            "customer_id": world.customer_ids,
            "name": customer_names(customers.n, rng),
            "segment": np.asarray(SEGMENTS, dtype=object)[customers.segment],
            "industry": np.asarray(INDUSTRIES, dtype=object)[customers.industry],
            "country": np.asarray(COUNTRIES, dtype=object)[customers.country],
            "payment_terms_days": pd.array(customers.terms_days, dtype="Int64"),
            "credit_limit": credit_limits(customers),
            "revenue_owner_id": make_ids("RO-", owners, 3)[owner],
            "collector_id": make_ids("COL-", collectors, 2)[customers.collector],
            "strategic": pd.array(customers.strategic, dtype="boolean"),
            "created_date": world.calendar.to_dates(customers.created_day),
        }
    )


def invoices_table(world: World) -> pd.DataFrame:
    invoices, customers, calendar = world.invoices, world.customers, world.calendar
    currency = np.asarray(CURRENCY_BY_COUNTRY, dtype=object)[customers.country]
    return pd.DataFrame(
        {
            "invoice_id": world.invoice_ids,
            "customer_id": world.customer_ids[invoices.customer],
            "issue_date": calendar.to_dates(invoices.issue_day),
            "due_date": calendar.to_dates(invoices.due_day),
            "amount": invoices.amount,
            "currency": currency[invoices.customer],
            "order_id": world.order_ids,
            "paperless": pd.array(invoices.paperless, dtype="boolean"),
            "paid_date": _dates(world, world.settled_day),
        }
    )


def disputed_amounts(invoices: Invoices, draws: DisputeDraws) -> np.ndarray:
    """Amount under dispute: the whole invoice, or a share of it in cents."""
    share = np.round(invoices.amount * draws.share, 2)
    return np.where(draws.full_amount, invoices.amount, share)


def payments_table(world: World, rng: np.random.Generator) -> pd.DataFrame:
    """Payments: instalments of undisputed invoices, short payments and post-dispute ones."""
    invoices, draws = world.invoices, world.disputes
    issue, amount, delay = invoices.issue_day, invoices.amount, world.settle_delay
    settle = issue + delay
    n = len(invoices)
    split = (
        ~draws.disputed & (rng.random(n) < world.config.payment.installment_share) & (delay >= 2)
    )
    first_day = issue + rng.integers(0, np.maximum(delay, 1))
    first_amount = np.round(amount * rng.uniform(0.3, 0.7, n), 2)
    disputed = disputed_amounts(invoices, draws)
    short = draws.disputed & ~draws.full_amount
    partial_credit = draws.resolution == DISPUTE_RESOLUTIONS.index("partial_credit")
    owed = np.where(partial_credit, np.round(disputed / 2, 2), disputed)
    pays_dispute = draws.disputed & PAID_RESOLUTIONS[draws.resolution]
    parts = [
        (~draws.disputed & ~split, settle, amount),
        (split, first_day, first_amount),
        (split, settle, np.round(amount - first_amount, 2)),
        (short, issue + draws.open_delay, np.round(amount - disputed, 2)),
        (pays_dispute, settle, owed),
    ]
    rows = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    day = np.concatenate([d[mask] for mask, d, _ in parts])
    paid = np.concatenate([a[mask] for mask, _, a in parts])
    known = (day < world.insolvency_day[invoices.customer[rows]]) & (day < world.calendar.as_of_day)
    rows, day, paid = rows[known], day[known], paid[known]
    order = np.lexsort((rows, day))
    return pd.DataFrame(
        {
            "payment_id": make_ids("PAY-", len(order), 7),
            "invoice_id": world.invoice_ids[rows[order]],
            "payment_date": world.calendar.to_dates(day[order]),
            "amount": paid[order],
        }
    )


def disputes_table(world: World) -> pd.DataFrame:
    """Disputes opened before as_of; unresolved when resolution falls after as_of or after
    the customer's insolvency."""
    invoices, draws = world.invoices, world.disputes
    opened = invoices.issue_day + draws.open_delay
    rows = np.flatnonzero(draws.disputed & (opened < world.calendar.as_of_day))
    rows = rows[np.argsort(opened[rows], kind="stable")]
    resolved = opened[rows] + draws.resolution_days[rows]
    resolved = np.where(resolved < world.insolvency_day[invoices.customer[rows]], resolved, NEVER)
    resolved_dates = _dates(world, resolved)
    resolution = np.asarray(DISPUTE_RESOLUTIONS, dtype=object)[draws.resolution[rows]]
    resolution[np.isnat(resolved_dates)] = None
    return pd.DataFrame(
        {
            "dispute_id": make_ids("DSP-", len(rows)),
            "invoice_id": world.invoice_ids[rows],
            "opened_date": world.calendar.to_dates(opened[rows]),
            "reason": np.asarray(DISPUTE_REASONS, dtype=object)[draws.reason[rows]],
            "amount": disputed_amounts(invoices, draws)[rows],
            "resolved_date": resolved_dates,
            "resolution": resolution,
        }
    )
