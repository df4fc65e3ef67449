"""Settings of the AR book simulator: every knob of every mechanism, with its default.

Each mechanism reads its own small parameter block (``CustomerParams``, ``HealthParams``,
``OperationsParams``, ``DisputeParams``, ``PaymentParams``, ``CollectionsParams``);
``SimulationConfig`` holds the size, the seed and one block of each. Defaults give a realistic
B2B ledger: 25-45 % of invoices paid late, 3-15 % disputed, DSO of 35-65 days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

MAX_MONTHS = 240


@dataclass(frozen=True)
class CustomerParams:
    """Who the customers are; see ``features.simulator.customers``.

    Attributes:
        segment_shares: Share of enterprise, mid-market and small customers.
        invoices_per_month: Mean invoices per active customer-month, by segment.
        new_customer_share: Share of customers acquired during the simulated period.
        habit_sd: Spread of the stable, per-customer habit of paying late (logit scale)
            around the mean of its segment, industry and country.
        segment_habit: Mean habit by segment (enterprise, mid-market, small).
        industry_habit: Mean habit by industry, in ``customers.INDUSTRIES`` order.
        country_habit: Mean habit by country, in ``customers.COUNTRIES`` order.
        po_required_share: Share of customers whose AP requires a purchase-order number,
            by segment.
        portal_share: Share of customers whose AP requires uploads to a supplier portal,
            by segment.
        paperless_initial_share: Share already receiving paperless invoices at the start.
        paperless_monthly_adoption: Monthly chance that a paper customer goes paperless.
        dispute_propensity_sd: Spread of the stable, per-customer dispute multiplier (log).
        strategic_share: Share of strategic accounts, by segment.
        owner_change_monthly_rate: Monthly chance that an account gets a new revenue owner.
        customers_per_collector: Book size of one collector.
        customers_per_revenue_owner: Book size of one revenue owner.
    """

    segment_shares: tuple[float, float, float] = (0.10, 0.30, 0.60)
    invoices_per_month: tuple[float, float, float] = (7.0, 2.9, 1.4)
    new_customer_share: float = 0.15
    habit_sd: float = 0.55
    segment_habit: tuple[float, float, float] = (-0.2, 0.0, 0.3)
    industry_habit: tuple[float, ...] = (0.0, 0.1, 0.4, 0.8, 0.5, -0.4, 0.2, -0.3)
    country_habit: tuple[float, ...] = (0.0, 0.1, -0.5, 0.5, -0.4, 0.0, 0.1, -0.6)
    po_required_share: tuple[float, float, float] = (0.7, 0.4, 0.15)
    portal_share: tuple[float, float, float] = (0.5, 0.2, 0.05)
    paperless_initial_share: float = 0.35
    paperless_monthly_adoption: float = 0.03
    dispute_propensity_sd: float = 0.35
    strategic_share: tuple[float, float, float] = (0.30, 0.05, 0.0)
    owner_change_monthly_rate: float = 0.012
    customers_per_collector: int = 150
    customers_per_revenue_owner: int = 40


@dataclass(frozen=True)
class HealthParams:
    """The latent financial health chain; see ``features.simulator.health``.

    Health is a Markov chain over six states: 0 insolvent (absorbing), 1 distressed, 2 weak,
    3 fair, 4 good, 5 strong. Each month a customer moves up one state, down one state, or
    down two (a shock), with the probabilities below.

    Attributes:
        initial_distribution: State probabilities at the first month (state 0 must be 0).
        up: Monthly chance of moving up one state, by state.
        down: Monthly chance of moving down one state, by state (from 1 it is insolvency).
        shock: Monthly chance of falling two states, by state.
        segment_down_multiplier: Scales down moves for enterprise, mid-market, small.
        downturn_share: Chance that an industry has one downturn during the period.
        downturn_months: Length of a downturn.
        downturn_multiplier: Scales the down moves of an industry in a downturn.
        health_value: Effect of each state on the late-payment logit (higher pays sooner).
        long_delay_share: Share of late payments drawn from the long-delay component.
        insolvency_day: Day of the month on which an insolvency is filed.
    """

    initial_distribution: tuple[float, ...] = (0.0, 0.02, 0.10, 0.30, 0.36, 0.22)
    up: tuple[float, ...] = (0.0, 0.03, 0.025, 0.015, 0.01, 0.0)
    down: tuple[float, ...] = (0.0, 0.015, 0.012, 0.01, 0.01, 0.01)
    shock: tuple[float, ...] = (0.0, 0.0, 0.002, 0.002, 0.002, 0.002)
    segment_down_multiplier: tuple[float, float, float] = (0.6, 1.0, 1.5)
    downturn_share: float = 0.3
    downturn_months: int = 6
    downturn_multiplier: float = 2.5
    health_value: tuple[float, ...] = (0.0, -1.6, -0.8, 0.0, 0.5, 0.9)
    long_delay_share: tuple[float, ...] = (0.6, 0.45, 0.25, 0.12, 0.07, 0.05)
    insolvency_day: int = 10


@dataclass(frozen=True)
class OperationsParams:
    """Orders, price changes and support tickets; see ``features.simulator.operations``.

    Attributes:
        price_change_monthly_rate: Monthly chance of a price change for a customer.
        pricing_window_days: How long after a price change invoices risk a discrepancy.
        pricing_discrepancy_after_change: Chance of a pricing discrepancy on an order
            invoiced within the window after a price change.
        pricing_discrepancy_base: Chance of a pricing discrepancy otherwise.
        delivery_problem_rate: Mean chance that an order is delivered incomplete.
        quality_problem_rate: Mean chance that an order has a quality problem.
        problem_factor_sd: Spread of the per-customer operational problem multiplier (log).
        tickets_per_month: Mean support tickets opened per customer-month, by segment.
        ticket_mean_days: Mean days a support ticket stays open.
    """

    price_change_monthly_rate: float = 0.05
    pricing_window_days: int = 60
    pricing_discrepancy_after_change: float = 0.25
    pricing_discrepancy_base: float = 0.005
    delivery_problem_rate: float = 0.06
    quality_problem_rate: float = 0.03
    problem_factor_sd: float = 0.5
    tickets_per_month: tuple[float, float, float] = (1.0, 0.4, 0.15)
    ticket_mean_days: float = 10.0


@dataclass(frozen=True)
class DisputeParams:
    """Dispute causes, timing and resolution; see ``features.simulator.disputes``.

    Cause rates are hazards on the scale of one invoice: P(dispute) = 1 - exp(-sum of rates),
    and the reason is the cause that fired (chance proportional to its rate).

    Attributes:
        base_rate: Rate of each reason (pricing, delivery, quality, billing_error, admin,
            other) on an invoice with no known problem.
        pricing_discrepancy_rate: Added pricing rate when the order has a discrepancy.
        price_change_rate: Added pricing rate within the window after a price change.
        delivery_rate: Added delivery rate when the order was delivered incomplete.
        quality_rate: Added quality rate when the order has a quality problem.
        open_ticket_rate: Added quality rate per open support ticket (up to three).
        po_admin_rate: Added admin rate for customers that require PO numbers.
        distress_rate: Added other rate for customers in health state 2 or below.
        window_days: Disputes open 1 to ``window_days`` days after issue, never later: an
            invoice older than this at the book's as_of has a known dispute label.
        open_decay: Day-to-day decay of the chance of opening (truncated geometric).
        resolution_mean_days: Mean days from opening to resolution, by reason.
        resolution_mix: Chance of each resolution (credit_note, partial_credit, rejected,
            reissued, withdrawn), by reason.
        full_amount_share: Chance that the whole invoice amount is disputed, by reason.
        post_resolution_pay_days: Days from resolution to payment of what is still owed.
    """

    base_rate: tuple[float, ...] = (0.003, 0.004, 0.004, 0.008, 0.003, 0.003)
    pricing_discrepancy_rate: float = 0.9
    price_change_rate: float = 0.03
    delivery_rate: float = 0.6
    quality_rate: float = 0.7
    open_ticket_rate: float = 0.015
    po_admin_rate: float = 0.008
    distress_rate: float = 0.01
    window_days: int = 45
    open_decay: float = 0.88
    resolution_mean_days: tuple[float, ...] = (18.0, 25.0, 30.0, 12.0, 15.0, 20.0)
    resolution_mix: tuple[tuple[float, ...], ...] = (
        (0.45, 0.25, 0.10, 0.15, 0.05),
        (0.35, 0.30, 0.15, 0.15, 0.05),
        (0.40, 0.30, 0.15, 0.05, 0.10),
        (0.30, 0.10, 0.05, 0.50, 0.05),
        (0.10, 0.05, 0.25, 0.40, 0.20),
        (0.20, 0.15, 0.35, 0.05, 0.25),
    )
    full_amount_share: tuple[float, ...] = (0.2, 0.4, 0.5, 0.6, 0.8, 0.5)
    post_resolution_pay_days: int = 5


@dataclass(frozen=True)
class PaymentParams:
    """When undisputed invoices are paid; see ``features.simulator.payments``.

    Attributes:
        late_intercept: Logit of paying late for a neutral customer and invoice.
        health_weight: Scales the health state's effect.
        po_friction: Friction of a PO requirement (logit and delay scale).
        portal_friction: Friction of portal uploads.
        paper_friction: Friction of a paper invoice.
        early_month_due_weight: Added logit when the due date falls on days 1-5 of a month,
            just after the customer's month-end payment run.
        quarter_end_weight: Added logit when the due date falls on day 21 or later of the
            last month of a quarter (cash held for the quarter close).
        season_weight: Added logit by month of the due date (January first).
        large_amount_weight: Added logit per unit of log(amount / the customer's usual).
        open_dispute_weight: Added logit when the customer has a dispute open at issue.
        early_payment_mean_days: Mean days before the due date of an on-time payment, for a
            customer of neutral disposition.
        early_disposition_weight: How much a customer's disposition to pay late shortens
            its days early: mean early days = early_payment_mean_days * exp(-w * disposition).
        delay_disposition_weight: How much it lengthens the short delay: times exp(w * d).
        short_delay_mean_days: Mean days late of the short-delay component, no friction.
        short_delay_per_friction: Added mean days late per unit of friction.
        long_delay_mean_days: Mean days late of the long-delay component.
        installment_share: Chance that an undisputed invoice is paid in two instalments.
    """

    late_intercept: float = -1.8
    health_weight: float = 1.0
    po_friction: float = 0.5
    portal_friction: float = 0.4
    paper_friction: float = 0.6
    early_month_due_weight: float = 0.9
    quarter_end_weight: float = 0.6
    season_weight: tuple[float, ...] = (0.2, 0, 0, 0, 0, 0, 0.1, 0.3, 0, 0, 0, 0.3)
    large_amount_weight: float = 1.0
    open_dispute_weight: float = 0.8
    early_payment_mean_days: float = 3.0
    early_disposition_weight: float = 1.0
    delay_disposition_weight: float = 0.3
    short_delay_mean_days: float = 4.0
    short_delay_per_friction: float = 8.0
    long_delay_mean_days: float = 45.0
    installment_share: float = 0.08


@dataclass(frozen=True)
class CollectionsParams:
    """Reminders, promises to pay and escalations; see ``features.simulator.collections``.

    Attributes:
        first_contact_days: Range of days past due of the first reminder (inclusive).
        promise_share: Chance that a reminded customer promises to pay.
        promise_days: Range of days from the reminder to the promised date (inclusive).
        second_contact_days: Days past due of the second reminder.
        escalation_days: Days past due at which an unpaid invoice is escalated.
    """

    first_contact_days: tuple[int, int] = (1, 7)
    promise_share: float = 0.5
    promise_days: tuple[int, int] = (3, 14)
    second_contact_days: int = 21
    escalation_days: int = 45


@dataclass(frozen=True)
class SimulationConfig:
    """Size, seed and mechanism settings of one simulated AR book.

    Attributes:
        customers: Number of customers (about 50 invoices each over 24 months by default).
        months: Length of the simulated period in months; the book's as_of is its end.
        seed: Seed of every random draw: the same config gives the same book, byte for byte.
        start: First day of the period, the first day of a month (YYYY-MM-01).
    """

    customers: int = 2000
    months: int = 24
    seed: int = 7
    start: str = "2023-01-01"
    customer: CustomerParams = field(default_factory=CustomerParams)
    health: HealthParams = field(default_factory=HealthParams)
    operations: OperationsParams = field(default_factory=OperationsParams)
    dispute: DisputeParams = field(default_factory=DisputeParams)
    payment: PaymentParams = field(default_factory=PaymentParams)
    collections: CollectionsParams = field(default_factory=CollectionsParams)

    def validate(self) -> SimulationConfig:
        """Check the settings a user sets; return ``self``.

        Raises:
            ValueError: A setting is out of range; the message names it and the fix.
        """
        if self.customers < 1:
            raise ValueError(f"customers={self.customers}: give at least 1 customer")
        if not 1 <= self.months <= MAX_MONTHS:
            raise ValueError(f"months={self.months}: give between 1 and {MAX_MONTHS} months")
        try:
            start = pd.Timestamp(self.start)
        except ValueError as error:
            raise ValueError(f"start={self.start!r}: not a date, use YYYY-MM-01") from error
        if start.day != 1 or start != start.normalize():
            raise ValueError(f"start={self.start!r}: must be the first day of a month")
        if self.health.initial_distribution[0] != 0:
            raise ValueError("health.initial_distribution[0] must be 0: nobody starts insolvent")
        return self

    @property
    def start_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def as_of(self) -> pd.Timestamp:
        """End of the simulated period: the book holds only events dated before it."""
        return self.start_date + pd.DateOffset(months=self.months)

    def to_meta(self) -> dict:
        """The settings as plain JSON-ready values (for ``book.json``)."""
        return asdict(self)

    @classmethod
    def for_invoices(
        cls, invoices: int, months: int = 24, seed: int = 7, **settings
    ) -> SimulationConfig:
        """A config sized to produce about ``invoices`` invoices over ``months`` months."""
        probe = cls(months=months, seed=seed, **settings)
        per_customer = expected_invoices_per_customer(probe)
        return cls(
            customers=max(1, round(invoices / per_customer)), months=months, seed=seed, **settings
        )


def expected_invoices_per_customer(config: SimulationConfig) -> float:
    """Mean invoices per customer over the period, from the segment mix and rates.

    New customers start invoicing on average halfway through; insolvencies are ignored, so
    the figure is a slight over-estimate.
    """
    params = config.customer
    monthly = sum(
        s * r for s, r in zip(params.segment_shares, params.invoices_per_month, strict=True)
    )
    active_months = config.months * (1 - params.new_customer_share / 2)
    return monthly * active_months
