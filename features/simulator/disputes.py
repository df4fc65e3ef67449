"""Disputes: caused by order and commercial problems, they hold payment until resolved.

Each reason is a competing cause with a rate fixed at issue by observable context (order
problems recorded before issue, a recent price change, open support tickets) and the
customer's stable dispute propensity: P(dispute) = 1 - exp(-sum of rates), and the reason is
the cause that fired. A dispute opens 1 to ``window_days`` days after issue (truncated
geometric), is resolved after 1 + Geometric days (mean by reason), and what is still owed is
paid ``post_resolution_pay_days`` later unless a credit note settles it. Because all of these
are fixed at issue, the settlement-day distribution has a closed form
(``settlement_cdf``), which the oracle uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.schema import DISPUTE_REASONS, DISPUTE_RESOLUTIONS
from features.simulator.config import DisputeParams

PRICING, DELIVERY, QUALITY, BILLING_ERROR, ADMIN, OTHER = range(len(DISPUTE_REASONS))
# Resolutions after which the customer still pays (the rest are settled by credit).
PAID_RESOLUTIONS = np.array(
    [r in ("partial_credit", "rejected", "withdrawn") for r in DISPUTE_RESOLUTIONS]
)
MAX_OPEN_TICKETS = 3


@dataclass(frozen=True)
class DisputeContext:
    """What drives each invoice's dispute causes, all known at issue (arrays of shape (n,)).

    Attributes:
        pricing_discrepancy: A pricing discrepancy was recorded on the order.
        recent_price_change: The customer had a price change within the pricing window.
        delivery_problem: The order was delivered incomplete.
        quality_problem: The order had a quality problem.
        open_tickets: Support tickets open at issue.
        po_required: Latent: the customer's AP requires a PO number.
        distressed: Latent: the customer's health state is 2 or below.
        propensity: Latent: the customer's dispute multiplier.
    """

    pricing_discrepancy: np.ndarray
    recent_price_change: np.ndarray
    delivery_problem: np.ndarray
    quality_problem: np.ndarray
    open_tickets: np.ndarray
    po_required: np.ndarray
    distressed: np.ndarray
    propensity: np.ndarray


@dataclass(frozen=True)
class DisputeDraws:
    """Sampled disputes; entries of undisputed invoices are meaningless (arrays of (n,)).

    Attributes:
        disputed: A dispute is opened on the invoice.
        reason: Index into ``schema.DISPUTE_REASONS``.
        open_delay: Days from issue to opening (1 to window_days).
        resolution_days: Days from opening to resolution (1 or more).
        resolution: Index into ``schema.DISPUTE_RESOLUTIONS``.
        full_amount: The whole invoice amount is disputed.
        share: Share of the amount disputed when not the whole of it.
    """

    disputed: np.ndarray
    reason: np.ndarray
    open_delay: np.ndarray
    resolution_days: np.ndarray
    resolution: np.ndarray
    full_amount: np.ndarray
    share: np.ndarray

    def settlement_delay(self, params: DisputeParams) -> np.ndarray:
        """Days from issue until the disputed invoice is settled (credit or payment)."""
        lag = np.where(PAID_RESOLUTIONS[self.resolution], params.post_resolution_pay_days, 0)
        return self.open_delay + self.resolution_days + lag


def cause_rates(
    context: DisputeContext, params: DisputeParams, root_cause_fixed: np.ndarray | None = None
) -> np.ndarray:
    """Rate of each dispute reason per invoice, of shape (n, 6) in ``DISPUTE_REASONS`` order.

    Args:
        context: What is known at issue.
        params: Dispute settings.
        root_cause_fixed: Effect hook for a decision policy: where True, the order's
            delivery, quality and pricing problems were fixed before the customer noticed,
            so they add nothing (default: nothing fixed).
    """
    live = 1.0 if root_cause_fixed is None else ~np.asarray(root_cause_fixed)
    base = np.asarray(params.base_rate)
    rates = np.empty((len(context.propensity), len(DISPUTE_REASONS)))
    rates[:, PRICING] = (
        base[PRICING]
        + live * params.pricing_discrepancy_rate * context.pricing_discrepancy
        + params.price_change_rate * context.recent_price_change
    )
    rates[:, DELIVERY] = base[DELIVERY] + live * params.delivery_rate * context.delivery_problem
    rates[:, QUALITY] = (
        base[QUALITY]
        + live * params.quality_rate * context.quality_problem
        + params.open_ticket_rate * np.minimum(context.open_tickets, MAX_OPEN_TICKETS)
    )
    rates[:, BILLING_ERROR] = base[BILLING_ERROR]
    rates[:, ADMIN] = base[ADMIN] + params.po_admin_rate * context.po_required
    rates[:, OTHER] = base[OTHER] + params.distress_rate * context.distressed
    return rates * context.propensity[:, None]


def dispute_probability(rates: np.ndarray) -> np.ndarray:
    """P(a dispute is opened) from the cause rates: 1 - exp(-sum of rates)."""
    return -np.expm1(-rates.sum(axis=1))


def open_delay_weights(params: DisputeParams) -> np.ndarray:
    """P(dispute opens d days after issue) for d = 1..window_days (truncated geometric)."""
    weights = params.open_decay ** np.arange(params.window_days)
    return weights / weights.sum()


def resolution_stay(params: DisputeParams) -> np.ndarray:
    """Per reason, the chance q that a dispute open for d >= 1 days stays open another day."""
    extra = np.asarray(params.resolution_mean_days) - 1.0
    return extra / (1.0 + extra)


def draw_disputes(
    rates: np.ndarray, params: DisputeParams, rng: np.random.Generator
) -> DisputeDraws:
    """Sample each invoice's dispute, reason, timing, resolution and disputed share."""
    n = len(rates)
    disputed = rng.random(n) < dispute_probability(rates)
    cumulative = np.cumsum(rates, axis=1)
    pick = rng.random(n) * cumulative[:, -1]
    reason = np.minimum((pick[:, None] >= cumulative).sum(axis=1), len(DISPUTE_REASONS) - 1)
    open_cdf = np.cumsum(open_delay_weights(params))
    open_delay = 1 + np.minimum(
        np.searchsorted(open_cdf, rng.random(n), side="right"), params.window_days - 1
    )
    stay = resolution_stay(params)[reason]
    resolution_days = rng.geometric(1.0 - stay)
    mix = np.cumsum(np.asarray(params.resolution_mix), axis=1)[reason]
    resolution = np.minimum(
        (rng.random(n)[:, None] >= mix).sum(axis=1), len(DISPUTE_RESOLUTIONS) - 1
    )
    full_amount = rng.random(n) < np.asarray(params.full_amount_share)[reason]
    return DisputeDraws(
        disputed,
        reason,
        open_delay,
        resolution_days,
        resolution,
        full_amount,
        share=rng.uniform(0.1, 0.6, n),
    )


def settlement_cdf(
    days: np.ndarray, reason_weights: np.ndarray, params: DisputeParams
) -> np.ndarray:
    """P(a disputed invoice is settled within ``days`` days of issue), in closed form.

    Settlement is at open_delay + resolution_days + lag, with lag 0 for credit resolutions
    and ``post_resolution_pay_days`` otherwise; the sum over open delays is a geometric series.

    Args:
        days: Days after issue, of shape (n,).
        reason_weights: Chance of each reason given a dispute, of shape (n, 6).
        params: Dispute settings.
    """
    mix = np.asarray(params.resolution_mix)
    paid_share = mix[:, PAID_RESOLUTIONS].sum(axis=1)
    stay = resolution_stay(params)
    total = np.zeros(len(days))
    for reason in range(len(DISPUTE_REASONS)):
        credit = _open_plus_resolution_cdf(days, stay[reason], params)
        paid = _open_plus_resolution_cdf(
            days - params.post_resolution_pay_days, stay[reason], params
        )
        by_reason = (1 - paid_share[reason]) * credit + paid_share[reason] * paid
        total += reason_weights[:, reason] * by_reason
    return total


def _open_plus_resolution_cdf(days: np.ndarray, stay: float, params: DisputeParams) -> np.ndarray:
    """P(open_delay + resolution_days <= days), resolution_days = 1 + Geometric0(stay).

    Equals sum over o = 1..U of w_o (1 - stay^(days - o)), with U = min(window, days - 1),
    w_o = (1 - r) r^(o-1) / (1 - r^W) and r the open decay.
    """
    r, window = params.open_decay, params.window_days
    days = np.asarray(days, dtype=np.float64)
    upper = np.clip(np.minimum(window, days - 1), 0, None)
    norm = (1 - r) / (1 - r**window)
    opened_by = norm * (1 - r**upper) / (1 - r)
    ratio = r / stay
    series = upper if abs(1 - ratio) < 1e-12 else (1 - ratio**upper) / (1 - ratio)
    still_open = norm * np.where(upper > 0, stay ** np.maximum(days - 1, 0) * series, 0.0)
    return np.where(upper > 0, opened_by - still_open, 0.0)


def expected_settlement_days(reason_weights: np.ndarray, params: DisputeParams) -> np.ndarray:
    """Mean days from issue to settlement of a disputed invoice, of shape (n,)."""
    weights = open_delay_weights(params)
    mean_open = float((np.arange(1, params.window_days + 1) * weights).sum())
    mix = np.asarray(params.resolution_mix)
    mean_lag = mix[:, PAID_RESOLUTIONS].sum(axis=1) * params.post_resolution_pay_days
    by_reason = mean_open + np.asarray(params.resolution_mean_days) + mean_lag
    return reason_weights @ by_reason
