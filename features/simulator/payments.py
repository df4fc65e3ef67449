"""When an undisputed invoice is paid: on time with a probability set at issue, else late.

The chance of paying late is a logistic function of the state at issue: the customer's
habit (stable), financial health (slow), AP friction (PO numbers, portal uploads, paper
invoices), the due date's place in the month and quarter, the season, an amount unusually
large for the customer, and disputes already open. On time, the customer pays a
Geometric number of days before the due date (at most the whole term); late, it pays
1 + L days after it, with L a mixture of a short delay (longer with friction) and a long one
(likelier in poor health): a heavy tail of days late. Everything is fixed at issue, so the
distribution of the payment day has a closed form (``payment_cdf``, ``expected_payment_days``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.config import PaymentParams

EARLY_MONTH_LAST_DAY = 5
QUARTER_END_FIRST_DAY = 21


@dataclass(frozen=True)
class PaymentState:
    """What sets each invoice's payment-day distribution, fixed at issue (arrays of (n,)).

    Attributes:
        terms_days: Days from issue to due date.
        p_late: Chance that the invoice, if undisputed, is paid after its due date.
        early_mean: Mean days before the due date of an on-time payment.
        short_delay_mean: Mean days late of the short-delay component.
        long_share: Share of the long-delay component among late payments.
    """

    terms_days: np.ndarray
    p_late: np.ndarray
    early_mean: np.ndarray
    short_delay_mean: np.ndarray
    long_share: np.ndarray

    def take(self, rows: np.ndarray) -> PaymentState:
        """The state of the invoices at positions ``rows``."""
        return PaymentState(*(np.asarray(v)[rows] for v in vars(self).values()))


def friction(
    po_required: np.ndarray, portal: np.ndarray, paperless: np.ndarray, params: PaymentParams
) -> np.ndarray:
    """AP-process friction of each invoice: PO requirement, portal uploads, paper."""
    return (
        params.po_friction * po_required
        + params.portal_friction * portal
        + params.paper_friction * ~paperless
    )


def calendar_effect(
    due_day_of_month: np.ndarray, due_month: np.ndarray, params: PaymentParams
) -> np.ndarray:
    """Logit added by the due date: just after a month-end run, quarter close, season."""
    early_month = due_day_of_month <= EARLY_MONTH_LAST_DAY
    quarter_end = (due_month % 3 == 0) & (due_day_of_month >= QUARTER_END_FIRST_DAY)
    season = np.asarray(params.season_weight)[due_month - 1]
    return (
        params.early_month_due_weight * early_month
        + params.quarter_end_weight * quarter_end
        + season
    )


def late_logit(
    habit: np.ndarray,
    health_value: np.ndarray,
    invoice_friction: np.ndarray,
    calendar: np.ndarray,
    amount_ratio: np.ndarray,
    open_disputes: np.ndarray,
    params: PaymentParams,
    collections_effect: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Logit of paying an undisputed invoice late.

    Args:
        habit: The customer's stable habit (logit scale).
        health_value: Effect of the customer's health state (``HealthParams.health_value``).
        invoice_friction: From ``friction``.
        calendar: From ``calendar_effect``.
        amount_ratio: Amount divided by the customer's usual amount.
        open_disputes: The customer's disputes open at issue.
        params: Payment settings.
        collections_effect: Effect hook for a decision policy: logit added by an action
            such as an early collections call (negative shortens payment; default 0).
    """
    large = np.log(np.maximum(amount_ratio, 1.0))
    return (
        params.late_intercept
        + habit
        - params.health_weight * health_value
        + invoice_friction
        + calendar
        + params.large_amount_weight * large
        + params.open_dispute_weight * (open_disputes > 0)
        + collections_effect
    )


def payment_state(
    terms_days: np.ndarray,
    logit: np.ndarray,
    invoice_friction: np.ndarray,
    disposition: np.ndarray,
    long_share: np.ndarray,
    params: PaymentParams,
) -> PaymentState:
    """The payment-day distribution's parameters of each invoice.

    Args:
        terms_days: Days from issue to due date.
        logit: From ``late_logit``.
        invoice_friction: From ``friction``.
        disposition: The customer's standing lateness (habit + friction - health effect):
            a customer inclined to pay late pays closer to the due date when on time and
            later when late, so days early and days late reveal it, not only late or not.
        long_share: Share of the long-delay component (by health state).
        params: Payment settings.
    """
    early_mean = params.early_payment_mean_days * np.exp(
        -params.early_disposition_weight * disposition
    )
    short_delay = params.short_delay_mean_days + params.short_delay_per_friction * invoice_friction
    return PaymentState(
        terms_days=terms_days,
        p_late=1.0 / (1.0 + np.exp(-logit)),
        early_mean=np.clip(early_mean, 0.5, 30.0),
        short_delay_mean=short_delay * np.exp(params.delay_disposition_weight * disposition),
        long_share=long_share,
    )


def _stay(mean: np.ndarray | float) -> np.ndarray:
    """q of a Geometric on {0, 1, ...} with P(G >= k) = q^k and the given mean."""
    mean = np.asarray(mean, dtype=np.float64)
    return mean / (1.0 + mean)


def draw_payment_days(
    state: PaymentState, params: PaymentParams, rng: np.random.Generator
) -> np.ndarray:
    """Days from issue to payment of each invoice if it is not disputed."""
    n = len(state.terms_days)
    late = rng.random(n) < state.p_late
    early = np.minimum(rng.geometric(1 - _stay(state.early_mean)) - 1, state.terms_days)
    long = rng.random(n) < state.long_share
    mean = np.where(long, params.long_delay_mean_days, state.short_delay_mean)
    delay = rng.geometric(1 - _stay(mean)) - 1
    return np.where(late, state.terms_days + 1 + delay, state.terms_days - early)


def payment_cdf(days: np.ndarray, state: PaymentState, params: PaymentParams) -> np.ndarray:
    """P(an undisputed invoice is paid within ``days`` days of issue), in closed form."""
    days = np.asarray(days, dtype=np.float64)
    terms = state.terms_days
    on_time = 1 - state.p_late
    before_due = on_time * _stay(state.early_mean) ** np.maximum(terms - days, 0)
    past = np.maximum(days - terms, 0)
    still_late = (
        state.long_share * _stay(params.long_delay_mean_days) ** past
        + (1 - state.long_share) * _stay(state.short_delay_mean) ** past
    )
    after_due = on_time + state.p_late * (1 - still_late)
    return np.where(days < 0, 0.0, np.where(days < terms, before_due, after_due))


def expected_payment_days(state: PaymentState, params: PaymentParams) -> np.ndarray:
    """Mean days from issue to payment of an undisputed invoice."""
    terms = state.terms_days
    q = _stay(state.early_mean)
    mean_early = q * (1 - q**terms) / (1 - q)
    mean_delay = (
        state.long_share * params.long_delay_mean_days
        + (1 - state.long_share) * state.short_delay_mean
    )
    return (1 - state.p_late) * (terms - mean_early) + state.p_late * (terms + 1 + mean_delay)
