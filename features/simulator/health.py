"""Latent financial health: a monthly Markov chain, and insolvency as its absorbing state.

Health moves slowly (a state changes a few times a year at most), so a customer's recent
payment behaviour reveals it. Transition probabilities depend on the segment (small firms are
more fragile) and on industry downturns. Because the chain is Markov with known transition
matrices, the chance that a customer becomes insolvent k months after an invoice's issue is
an exact product of matrices: the oracle integrates insolvency risk in closed form.
"""

from __future__ import annotations

import numpy as np

from features.simulator.calendar import HORIZON_MONTHS
from features.simulator.config import HealthParams

INSOLVENT = 0
N_STATES = 6
# Months after issue over which insolvency can still prevent on-time payment: an invoice
# falls due at most 90 days after issue, before the start of the fifth month after it.
INSOLVENCY_LOOKAHEAD = 5


def draw_downturns(
    params: HealthParams, industries: int, months_total: int, rng: np.random.Generator
) -> np.ndarray:
    """Down-move multiplier of each industry in each month, of shape (industries, months)."""
    multiplier = np.ones((industries, months_total))
    hit = rng.random(industries) < params.downturn_share
    begin = rng.integers(0, max(1, months_total - HORIZON_MONTHS), industries)
    months = np.arange(months_total)
    in_downturn = (months >= begin[:, None]) & (months < begin[:, None] + params.downturn_months)
    multiplier[hit[:, None] & in_downturn] = params.downturn_multiplier
    return multiplier


def transition_matrices(params: HealthParams, downturns: np.ndarray) -> np.ndarray:
    """Monthly transition matrices, of shape (3 segments, industries, months, 6, 6).

    Row s, column s' is the chance of moving from state s to state s' at the start of a
    month. Down moves (and shocks) are scaled by the segment and downturn multipliers.
    """
    down_scale = np.asarray(params.segment_down_multiplier)[:, None, None] * downturns[None]
    matrices = np.zeros(down_scale.shape + (N_STATES, N_STATES))
    matrices[..., INSOLVENT, INSOLVENT] = 1.0
    for state in range(1, N_STATES):
        down = np.minimum(params.down[state] * down_scale, 0.5)
        shock = np.minimum(params.shock[state] * down_scale, 0.2)
        matrices[..., state, state - 1] += down
        matrices[..., state, max(state - 2, INSOLVENT)] += shock
        if state + 1 < N_STATES:
            matrices[..., state, state + 1] += params.up[state]
        matrices[..., state, state] += 1.0 - down - shock - params.up[state]
    return matrices


def simulate_health(
    segment: np.ndarray,
    industry: np.ndarray,
    created_month: np.ndarray,
    matrices: np.ndarray,
    params: HealthParams,
    months: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Health state of each customer in each month, of shape (customers, months).

    A customer's chain starts at its first month in the period and moves only after the
    month it was created in, so that the month of its first invoice follows a transition.
    """
    n = len(segment)
    health = np.zeros((n, months), dtype=np.int8)
    health[:, 0] = rng.choice(N_STATES, size=n, p=np.asarray(params.initial_distribution))
    for month in range(1, months):
        step = next_state(health[:, month - 1], matrices[segment, industry, month], rng.random(n))
        health[:, month] = np.where(month > created_month, step, health[:, month - 1])
    return health


def next_state(state: np.ndarray, matrices: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Next state of each customer, by inverse transform of its row of ``matrices``.

    Args:
        state: Current states, of shape (customers,).
        matrices: Each customer's transition matrix, of shape (customers, 6, 6).
        uniform: Uniform draws on [0, 1), of shape (customers,).
    """
    rows = matrices[np.arange(len(state)), state.astype(np.int64)]
    cumulative = np.cumsum(rows, axis=1)
    return np.minimum((uniform[:, None] >= cumulative).sum(axis=1), N_STATES - 1).astype(np.int8)


def insolvency_month(health: np.ndarray) -> np.ndarray:
    """First month each customer is insolvent, or -1 if it stays solvent."""
    insolvent = health == INSOLVENT
    return np.where(insolvent.any(axis=1), insolvent.argmax(axis=1), -1)


def first_insolvency_probabilities(matrices: np.ndarray, months: int) -> np.ndarray:
    """P(first insolvent exactly k months later | state now), for k = 1..INSOLVENCY_LOOKAHEAD.

    Returns:
        Array of shape (3, industries, months, 6, INSOLVENCY_LOOKAHEAD): for a customer of
        that segment and industry in state s during month m, entry k-1 is the chance that
        month m + k is its first insolvent month.
    """
    shape = matrices.shape[:2] + (months, N_STATES, N_STATES)
    reach = np.broadcast_to(np.eye(N_STATES), shape).copy()
    out = np.zeros(matrices.shape[:2] + (months, N_STATES, INSOLVENCY_LOOKAHEAD))
    for k in range(1, INSOLVENCY_LOOKAHEAD + 1):
        before = reach[..., INSOLVENT].copy()
        reach = reach @ matrices[:, :, k : k + months]
        out[..., k - 1] = reach[..., INSOLVENT] - before
    return out
