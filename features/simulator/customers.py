"""Customers: who they are in the book, and the stable latent traits behind their behaviour.

Observable attributes (segment, industry, country, terms, credit limit, collector, revenue
owner, strategic flag, created date) go to the ``customers`` table. Latent traits (habit of
paying late, AP-process friction, dispute propensity, operational problem rate) never do:
models can learn them only through the customer's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.calendar import Calendar
from features.simulator.config import SimulationConfig

INDUSTRIES = (
    "manufacturing",
    "wholesale",
    "retail",
    "construction",
    "healthcare",
    "technology",
    "logistics",
    "energy",
)
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "CA", "AU", "SE")
COUNTRY_SHARES = (0.45, 0.12, 0.12, 0.08, 0.05, 0.08, 0.05, 0.05)
CURRENCY_BY_COUNTRY = ("USD", "GBP", "EUR", "EUR", "EUR", "CAD", "AUD", "SEK")
# Payment terms (Net N) and their shares, by segment: enterprise, mid-market, small.
TERMS = (
    ((30, 45, 60, 90), (0.2, 0.2, 0.4, 0.2)),
    ((15, 30, 45, 60), (0.1, 0.5, 0.25, 0.15)),
    ((15, 30, 45), (0.3, 0.6, 0.1)),
)
TYPICAL_AMOUNT = (40_000.0, 8_000.0, 1_500.0)
NAME_WORDS = (
    "Acme Apex Atlas Beacon Blue Cedar Crest Delta Eagle Ember Falcon Granite Harbor Iron "
    "Juniper Keystone Lakeside Maple Meridian Nova Oak Orbit Pine Pioneer Quarry Redwood "
    "Sierra Summit Titan Union Vertex Willow"
).split()
NAME_SUFFIXES = ("Ltd", "Inc", "GmbH", "BV", "LLC", "Group", "Holdings", "Co")


@dataclass(frozen=True)
class Customers:
    """All customers as parallel arrays of shape (n,).

    Attributes:
        segment: Index into ``schema.SEGMENTS``.
        industry: Index into ``INDUSTRIES``.
        country: Index into ``COUNTRIES``.
        terms_days: Payment terms in days.
        typical_amount: The customer's usual invoice amount (latent; estimable from history).
        invoice_rate: Mean invoices per active month.
        created_day: Day number of the account's creation (negative: before the period).
        created_month: Month of creation within the period, -1 when before it.
        first_month: First month with invoices.
        collector: Collector number.
        revenue_owner: Revenue owner number at the start.
        strategic: Strategic account.
        habit: Latent habit of paying late (logit scale, stable).
        po_required: Latent: AP needs a PO number on every invoice.
        portal: Latent: AP needs invoices uploaded to a portal.
        paperless_month: First month of paperless invoicing (0: from the start).
        dispute_propensity: Latent multiplier of every dispute cause rate (stable).
        problem_factor: Latent multiplier of delivery, quality and ticket rates (stable).
    """

    segment: np.ndarray
    industry: np.ndarray
    country: np.ndarray
    terms_days: np.ndarray
    typical_amount: np.ndarray
    invoice_rate: np.ndarray
    created_day: np.ndarray
    created_month: np.ndarray
    first_month: np.ndarray
    collector: np.ndarray
    revenue_owner: np.ndarray
    strategic: np.ndarray
    habit: np.ndarray
    po_required: np.ndarray
    portal: np.ndarray
    paperless_month: np.ndarray
    dispute_propensity: np.ndarray
    problem_factor: np.ndarray

    @property
    def n(self) -> int:
        return len(self.segment)


def draw_customers(
    config: SimulationConfig, calendar: Calendar, rng: np.random.Generator
) -> Customers:
    """Draw ``config.customers`` customers with their observable and latent traits."""
    params = config.customer
    n = config.customers
    segment = rng.choice(3, size=n, p=np.asarray(params.segment_shares))
    created_day, created_month = _creation(config, calendar, rng, n)
    industry = rng.integers(0, len(INDUSTRIES), n)
    country = rng.choice(len(COUNTRIES), size=n, p=np.asarray(COUNTRY_SHARES))
    typical = np.asarray(TYPICAL_AMOUNT)[segment] * rng.lognormal(0.0, 0.6, n)
    rate = np.asarray(params.invoices_per_month)[segment] * rng.lognormal(-0.08, 0.4, n)
    return Customers(
        segment=segment,
        industry=industry,
        country=country,
        terms_days=_draw_terms(segment, rng),
        typical_amount=typical,
        invoice_rate=rate,
        created_day=created_day,
        created_month=created_month,
        first_month=created_month + 1,
        collector=rng.integers(0, count_staff(n, params.customers_per_collector), n),
        revenue_owner=rng.integers(0, count_staff(n, params.customers_per_revenue_owner), n),
        strategic=rng.random(n) < np.asarray(params.strategic_share)[segment],
        habit=_habit(params, segment, industry, country, rng),
        po_required=rng.random(n) < np.asarray(params.po_required_share)[segment],
        portal=rng.random(n) < np.asarray(params.portal_share)[segment],
        paperless_month=_paperless_month(params, rng, n),
        dispute_propensity=_lognormal_multiplier(rng, params.dispute_propensity_sd, n),
        problem_factor=_lognormal_multiplier(rng, config.operations.problem_factor_sd, n),
    )


def count_staff(customers: int, per_person: int) -> int:
    """Number of collectors or revenue owners for a book of ``customers``."""
    return max(1, -(-customers // per_person))


def credit_limits(customers: Customers) -> np.ndarray:
    """Credit limit: about three months of usual billing, in thousands, at least 1,000."""
    monthly = customers.typical_amount * customers.invoice_rate
    return np.maximum(1000.0, np.round(3 * monthly, -3))


def customer_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible company names ("Cedar Summit Ltd"); duplicates are possible, as in life."""
    first = rng.integers(0, len(NAME_WORDS), n)
    second = rng.integers(0, len(NAME_WORDS), n)
    suffix = rng.integers(0, len(NAME_SUFFIXES), n)
    words = np.asarray(NAME_WORDS, dtype=object)
    return words[first] + " " + words[second] + " " + np.asarray(NAME_SUFFIXES, object)[suffix]


def _creation(
    config: SimulationConfig, calendar: Calendar, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Creation day and month: most accounts predate the period, some are won during it."""
    created_day = -rng.integers(30, 3650, n)
    created_month = np.full(n, -1)
    if config.months >= 3:
        is_new = rng.random(n) < config.customer.new_customer_share
        month = rng.integers(1, config.months - 1, n)
        created_month = np.where(is_new, month, -1)
        new_day = calendar.month_start[month] + rng.integers(0, 10, n)
        created_day = np.where(is_new, new_day, created_day)
    return created_day.astype(np.int64), created_month.astype(np.int64)


def _habit(
    params,
    segment: np.ndarray,
    industry: np.ndarray,
    country: np.ndarray,  # noqa: ANN001
    rng: np.random.Generator,
) -> np.ndarray:
    """Habit of paying late: a mean by segment, industry and country, plus a personal part."""
    mean = (
        np.asarray(params.segment_habit)[segment]
        + np.asarray(params.industry_habit)[industry]
        + np.asarray(params.country_habit)[country]
    )
    return mean + rng.normal(0.0, params.habit_sd, len(segment))


def _draw_terms(segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    terms = np.zeros(len(segment), dtype=np.int64)
    for code, (choices, shares) in enumerate(TERMS):
        mask = segment == code
        terms[mask] = rng.choice(np.asarray(choices), size=int(mask.sum()), p=np.asarray(shares))
    return terms


def _paperless_month(params, rng: np.random.Generator, n: int) -> np.ndarray:  # noqa: ANN001
    initially = rng.random(n) < params.paperless_initial_share
    adoption = rng.geometric(params.paperless_monthly_adoption, n)
    return np.where(initially, 0, adoption).astype(np.int64)


def _lognormal_multiplier(rng: np.random.Generator, sd: float, n: int) -> np.ndarray:
    """A multiplier with mean 1 and log-spread ``sd``."""
    return rng.lognormal(-(sd**2) / 2, sd, n)
