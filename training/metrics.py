"""Evaluation metrics for the test window: ranking, calibration, lift and pay-date ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

EPSILON = 1e-6


def expected_calibration_error(outcomes: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and observed rates over ``bins`` equal-width bins.

    Each bin's gap |mean(prob) - mean(outcome)| is weighted by its share of the invoices.
    """
    outcomes, probs = np.asarray(outcomes, float), np.clip(np.asarray(probs, float), 0, 1)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    prob_sums = np.bincount(which, weights=probs, minlength=bins)
    outcome_sums = np.bincount(which, weights=outcomes, minlength=bins)
    return float(np.abs(prob_sums - outcome_sums).sum() / max(len(probs), 1))


def top_share_metrics(
    outcomes: np.ndarray, probs: np.ndarray, amounts: np.ndarray, share: float
) -> tuple[float, float]:
    """Lift and share of the positive amount captured by the top ``share`` of scores.

    Returns:
        ``(lift, amount_captured)``: the positive rate among the top-scored invoices divided
        by the overall rate, and the share of the positives' total amount they hold.
    """
    n_top = max(1, int(round(len(probs) * share)))
    top = np.argsort(-probs, kind="stable")[:n_top]
    rate = outcomes.mean()
    lift = float(outcomes[top].mean() / rate) if rate > 0 else float("nan")
    positive_amount = (amounts * outcomes).sum()
    captured = (amounts[top] * outcomes[top]).sum()
    return lift, float(captured / positive_amount) if positive_amount > 0 else float("nan")


def classification_metrics(
    outcomes: np.ndarray,
    probs: np.ndarray,
    amounts: np.ndarray | None = None,
    bins: int = 10,
) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log loss, ECE, lift and amount captured at 10 % and 20 %.

    Args:
        outcomes: 0/1 outcomes of shape (n_samples,).
        probs: Predicted probabilities of shape (n_samples,).
        amounts: Invoice amounts of shape (n_samples,) for the amount captured (default 1).
        bins: ECE bins, default 10.

    AUCs are NaN when the outcomes hold a single class.
    """
    outcomes = np.asarray(outcomes, float)
    probs = np.asarray(probs, float)
    amounts = np.ones_like(probs) if amounts is None else np.asarray(amounts, float)
    both_classes = 0 < outcomes.sum() < len(outcomes)
    clipped = np.clip(probs, EPSILON, 1 - EPSILON)
    metrics = {
        "n": float(len(outcomes)),
        "rate": float(outcomes.mean()) if len(outcomes) else float("nan"),
        "mean_prob": float(probs.mean()) if len(probs) else float("nan"),
        "roc_auc": float(roc_auc_score(outcomes, probs)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(outcomes, probs)) if both_classes else float("nan"),
        "brier": float(np.mean((probs - outcomes) ** 2)),
        "log_loss": float(
            -np.mean(outcomes * np.log(clipped) + (1 - outcomes) * np.log(1 - clipped))
        ),
        "ece": expected_calibration_error(outcomes, probs, bins),
    }
    for share in (0.1, 0.2):
        lift, captured = top_share_metrics(outcomes, probs, amounts, share)
        metrics[f"lift_top{int(share * 100)}"] = lift
        metrics[f"amount_captured_top{int(share * 100)}"] = captured
    return metrics


def pinball_loss(days: np.ndarray, predicted: np.ndarray, quantile: float) -> float:
    """Mean quantile (pinball) loss of ``predicted`` as the ``quantile`` of ``days``."""
    diff = np.asarray(days, float) - np.asarray(predicted, float)
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1) * diff)))


def quantile_metrics(
    days: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray
) -> dict[str, float]:
    """MAE of the median, p10-p90 coverage, mean interval width and mean pinball loss."""
    days = np.asarray(days, float)
    pinball = [pinball_loss(days, p, q) for p, q in ((p10, 0.1), (p50, 0.5), (p90, 0.9))]
    return {
        "n": float(len(days)),
        "mae": float(np.mean(np.abs(days - p50))),
        "coverage_p10_p90": float(np.mean((days >= p10) & (days <= p90))),
        "interval_width": float(np.mean(np.asarray(p90) - np.asarray(p10))),
        "pinball": float(np.mean(pinball)),
    }


def metrics_by_group(
    frame: pd.DataFrame, group: str, metric_fn, min_rows: int = 50
) -> dict[str, dict[str, float]]:
    """``metric_fn(rows)`` per value of ``frame[group]`` with at least ``min_rows`` rows.

    Smaller groups are reported with only their row count, never silently left out.
    """
    result = {}
    for value, rows in frame.groupby(group, observed=True, dropna=False):
        name = "unknown" if pd.isna(value) else str(value)
        result[name] = metric_fn(rows) if len(rows) >= min_rows else {"n": float(len(rows))}
    return result
