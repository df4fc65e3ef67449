"""``simulate_book``: run every mechanism in causal order and assemble the book and oracle.

Order of play: customers and their latent traits; the health chain month by month; the
customers' operational events (price changes, support tickets, owner changes); invoices and
the problems on their orders; disputes (from causes known at issue); payments (from state at
issue, including disputes already open); insolvency cuts; then the book's tables, truncated
at as_of, and the oracle, computed in closed form from the same state at issue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.book import Book
from features.simulator import disputes as dispute_process
from features.simulator import health as health_process
from features.simulator import payments as payment_process
from features.simulator.calendar import HORIZON_MONTHS, NEVER, Calendar
from features.simulator.collections import draw_collections
from features.simulator.config import SimulationConfig
from features.simulator.customers import INDUSTRIES, count_staff, draw_customers
from features.simulator.events import count_before, last_day_before
from features.simulator.invoices import draw_invoices
from features.simulator.operations import (
    active_months,
    draw_order_problems,
    draw_owner_changes,
    draw_price_changes,
    draw_support_tickets,
)
from features.simulator.oracle import late_probability, oracle_frame
from features.simulator.tables import World, build_tables

STAGES = (
    "customers",
    "health",
    "operations",
    "invoices",
    "disputes",
    "payments",
    "oracle",
    "tables",
)
STREAMS = (
    "customers",
    "health",
    "operations",
    "invoices",
    "disputes",
    "payments",
    "collections",
    "tables",
)


@dataclass
class SimulatedBook:
    """A simulated AR book and its ground truth.

    Attributes:
        tables: Canonical tables (customers, invoices, payments, disputes, activities) with
            the dtypes ``features.book.load_book`` returns.
        oracle: Per invoice, the truths at issue (p_late, p_dispute, expected_days_to_pay)
            and the latent state behind them; never an input to features.
        as_of: End of the period: every event in the tables is dated before it.
        meta: Generator settings (``SimulationConfig.to_meta``).
    """

    tables: dict[str, pd.DataFrame]
    oracle: pd.DataFrame
    as_of: pd.Timestamp
    meta: dict = field(default_factory=dict)

    def to_book(self) -> Book:
        """The book alone (no oracle), as ``load_book`` would return it."""
        return Book(tables=dict(self.tables), as_of=self.as_of, meta=dict(self.meta))


def simulate_book(
    config: SimulationConfig | None = None, on_stage: Callable[[str], None] | None = None
) -> SimulatedBook:
    """Simulate a B2B receivables book.

    Args:
        config: Size, seed and mechanism settings (default: ``SimulationConfig()``).
        on_stage: Called with each stage name of ``STAGES`` as it starts (for progress).

    Returns:
        The book, its oracle, its as_of and the generator settings.
    """
    config = (config or SimulationConfig()).validate()
    report = on_stage or (lambda stage: None)
    rng = random_streams(config.seed)
    world = _simulate_world(config, rng, report)
    report("tables")
    tables = build_tables(world, rng["tables"])
    return SimulatedBook(
        tables=tables, oracle=world.oracle, as_of=config.as_of, meta=config.to_meta()
    )


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per mechanism, so that changing one leaves the others."""
    seeds = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, seeds, strict=True)}


def _simulate_world(
    config: SimulationConfig, rng: dict[str, np.random.Generator], report: Callable[[str], None]
) -> World:
    world, matrices = _simulate_customers(config, rng, report)
    report("invoices")
    world.invoices = draw_invoices(world.customers, world.active, world.calendar, rng["invoices"])
    _draw_order_problems(world, rng["invoices"])
    report("disputes")
    _draw_disputes(world, rng["disputes"])
    report("payments")
    _draw_payments(world, rng["payments"])
    world.collections = draw_collections(
        world.invoices.due_day, world.settled_day, config.collections, rng["collections"]
    )
    report("oracle")
    world.oracle = _oracle(world, matrices)
    return world


def _simulate_customers(
    config: SimulationConfig, rng: dict[str, np.random.Generator], report: Callable[[str], None]
) -> tuple[World, np.ndarray]:
    """Customers, their health month by month and their operational events."""
    calendar = Calendar.build(config.start_date, config.months)
    report("customers")
    customers = draw_customers(config, calendar, rng["customers"])
    report("health")
    downturns = health_process.draw_downturns(
        config.health, len(INDUSTRIES), config.months + HORIZON_MONTHS, rng["health"]
    )
    matrices = health_process.transition_matrices(config.health, downturns)
    health = health_process.simulate_health(
        customers.segment, customers.industry, customers.created_month, matrices,
        config.health, config.months, rng["health"],
    )  # fmt: skip
    insolvent_month = health_process.insolvency_month(health)
    report("operations")
    active = active_months(customers, insolvent_month, config.months)
    ops, params = rng["operations"], config.operations
    owners = count_staff(config.customers, config.customer.customers_per_revenue_owner)
    owner_rate = config.customer.owner_change_monthly_rate
    world = World(
        config=config,
        calendar=calendar,
        customers=customers,
        health=health,
        insolvent_month=insolvent_month,
        active=active,
        price_changes=draw_price_changes(active, params, calendar, ops),
        tickets=draw_support_tickets(active, customers, params, calendar, ops),
        owner_changes=draw_owner_changes(active, customers, owners, owner_rate, calendar, ops),
    )
    return world, matrices


def _draw_order_problems(world: World, rng: np.random.Generator) -> None:
    invoices, params = world.invoices, world.config.operations
    last_change = last_day_before(
        world.price_changes.customer,
        world.price_changes.day,
        invoices.customer,
        invoices.issue_day,
        missing=-int(NEVER),
    )
    world.recent_price_change = invoices.issue_day - last_change <= params.pricing_window_days
    world.problems = draw_order_problems(
        invoices.customer,
        invoices.issue_day,
        world.recent_price_change,
        world.customers,
        params,
        rng,
    )


def _draw_disputes(world: World, rng: np.random.Generator) -> None:
    invoices, customers, tickets = world.invoices, world.customers, world.tickets
    c, day = invoices.customer, invoices.issue_day
    open_tickets = count_before(tickets.customer, tickets.day, c, day) - count_before(
        tickets.customer, tickets.value, c, day
    )
    context = dispute_process.DisputeContext(
        pricing_discrepancy=world.problems.pricing,
        recent_price_change=world.recent_price_change,
        delivery_problem=world.problems.delivery,
        quality_problem=world.problems.quality,
        open_tickets=open_tickets,
        po_required=customers.po_required[c],
        distressed=world.health_at_issue <= 2,
        propensity=customers.dispute_propensity[c],
    )
    world.dispute_rates = dispute_process.cause_rates(context, world.config.dispute)
    world.disputes = dispute_process.draw_disputes(world.dispute_rates, world.config.dispute, rng)


def _draw_payments(world: World, rng: np.random.Generator) -> None:
    config, invoices, customers, calendar = (
        world.config,
        world.invoices,
        world.customers,
        world.calendar,
    )
    c = invoices.customer
    draws = world.disputes
    opened = np.where(draws.disputed, invoices.issue_day + draws.open_delay, NEVER)
    resolved = np.where(draws.disputed, opened + draws.resolution_days, NEVER)
    world.open_disputes = count_before(
        c[draws.disputed], opened[draws.disputed], c, invoices.issue_day
    ) - count_before(c[draws.disputed], resolved[draws.disputed], c, invoices.issue_day)
    world.friction = payment_process.friction(
        customers.po_required[c], customers.portal[c], invoices.paperless, config.payment
    )
    due = invoices.due_day
    health_value = np.asarray(config.health.health_value)[world.health_at_issue]
    logit = payment_process.late_logit(
        habit=customers.habit[c],
        health_value=health_value,
        invoice_friction=world.friction,
        calendar=payment_process.calendar_effect(
            calendar.day_of_month[due], calendar.month_of_year[due], config.payment
        ),
        amount_ratio=invoices.amount / customers.typical_amount[c],
        open_disputes=world.open_disputes,
        params=config.payment,
    )
    long_share = np.asarray(config.health.long_delay_share)[world.health_at_issue]
    disposition = customers.habit[c] + world.friction - config.payment.health_weight * health_value
    world.payment_state = payment_process.payment_state(
        invoices.terms_days, logit, world.friction, disposition, long_share, config.payment
    )
    undisputed_days = payment_process.draw_payment_days(world.payment_state, config.payment, rng)
    world.settle_delay = np.where(
        draws.disputed, draws.settlement_delay(config.dispute), undisputed_days
    )
    insolvency = world.insolvency_day[c]
    settled = invoices.issue_day + world.settle_delay
    world.settled_day = np.where(settled < insolvency, settled, NEVER)


def _oracle(world: World, matrices: np.ndarray) -> pd.DataFrame:
    config, invoices, customers, calendar = (
        world.config,
        world.invoices,
        world.customers,
        world.calendar,
    )
    rates = world.dispute_rates
    p_dispute = dispute_process.dispute_probability(rates)
    reason_weights = rates / rates.sum(axis=1, keepdims=True)

    def settled_by(days: np.ndarray, rows: np.ndarray) -> np.ndarray:
        state = world.payment_state.take(rows)
        undisputed = payment_process.payment_cdf(days, state, config.payment)
        disputed = dispute_process.settlement_cdf(days, reason_weights[rows], config.dispute)
        return (1 - p_dispute[rows]) * undisputed + p_dispute[rows] * disputed

    first = health_process.first_insolvency_probabilities(matrices, config.months)
    c = invoices.customer
    chance = first[
        customers.segment[c], customers.industry[c], invoices.month, world.health_at_issue
    ]
    ahead = invoices.month[:, None] + np.arange(1, chance.shape[1] + 1)[None, :]
    offset = (
        calendar.month_start[ahead] + config.health.insolvency_day - 1 - invoices.issue_day[:, None]
    )
    p_late = late_probability(invoices.terms_days, settled_by, chance, offset)
    expected = (1 - p_dispute) * payment_process.expected_payment_days(
        world.payment_state, config.payment
    ) + p_dispute * dispute_process.expected_settlement_days(reason_weights, config.dispute)
    latent = {
        "health_state": world.health_at_issue.astype(np.int64),
        "friction": world.friction,
        "habit": customers.habit[c],
        "dispute_propensity": customers.dispute_propensity[c],
    }
    return oracle_frame(world.invoice_ids, p_late, p_dispute, expected, latent)
