"""The ground truth of each invoice at issue, in closed form from the generating process.

For an invoice with terms tau, dispute probability P_d, undisputed payment-day CDF F_n and
disputed settlement-day CDF F_s, the invoice is settled within y days with probability
F(y) = (1 - P_d) F_n(y) + P_d F_s(y). It is late if it is not settled by its due date, or if
its customer becomes insolvent before settling it:

    P(late) = 1 - F(tau) + sum_k f_k * max(0, F(tau) - F(d_k - 1)),

where f_k is the chance that the customer first becomes insolvent in the k-th month after
issue and d_k the days from issue to that insolvency filing. The oracle is never an input to
features: it measures how close a model gets to the best possible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

SettledBy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def late_probability(
    terms_days: np.ndarray,
    settled_by: SettledBy,
    insolvency_chance: np.ndarray,
    insolvency_offset: np.ndarray,
) -> np.ndarray:
    """True P(late) of each invoice.

    Args:
        terms_days: Days from issue to due date, of shape (n,).
        settled_by: ``settled_by(days, rows)`` is P(settled within ``days`` days of issue)
            for the invoices at positions ``rows``; both arrays of shape (len(rows),).
        insolvency_chance: f_k, of shape (n, K).
        insolvency_offset: d_k, days from issue to the insolvency filing, of shape (n, K).

    Invoices whose customer cannot become insolvent in month k, or only after the due date,
    get nothing from that month's term and are skipped: the result is the same.
    """
    on_time = settled_by(terms_days, np.arange(len(terms_days)))
    p_late = 1.0 - on_time
    for k in range(insolvency_chance.shape[1]):
        offset = insolvency_offset[:, k]
        rows = np.flatnonzero((insolvency_chance[:, k] > 0) & (offset - 1 < terms_days))
        unpaid = on_time[rows] - settled_by(offset[rows] - 1, rows)
        p_late[rows] += insolvency_chance[rows, k] * np.maximum(unpaid, 0.0)
    return np.clip(p_late, 0.0, 1.0)


def oracle_frame(
    invoice_id: np.ndarray,
    p_late: np.ndarray,
    p_dispute: np.ndarray,
    expected_days: np.ndarray,
    latent: dict[str, np.ndarray],
) -> pd.DataFrame:
    """The oracle table: one row per invoice, truths at issue, then the latent state."""
    frame = pd.DataFrame(
        {
            "invoice_id": invoice_id.astype(object),
            "p_late": p_late,
            "p_dispute": p_dispute,
            "expected_days_to_pay": expected_days,
        }
    )
    for name, values in latent.items():
        frame[name] = values
    return frame
