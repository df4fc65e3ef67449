"""Probability calibration and pay-date interval adjustment, fitted on the validation window.

Everything fitted here is stored in a plain form (lists of floats in JSON) so that serving
applies it with NumPy alone: isotonic calibration is a piecewise-linear map applied with
``np.interp`` over its thresholds, Platt scaling is two numbers, the pay-date interval
adjustment is one offset in days.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

EPSILON = 1e-6


def fit_isotonic(scores: np.ndarray, outcomes: np.ndarray) -> dict:
    """Fit a monotone map from raw scores to probabilities.

    Args:
        scores: Raw model probabilities of shape (n_samples,).
        outcomes: 0/1 outcomes of shape (n_samples,).

    Returns:
        ``{"method": "isotonic", "x": [...], "y": [...]}``: the thresholds, increasing in x.
    """
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    isotonic.fit(scores, outcomes)
    return {
        "method": "isotonic",
        "x": isotonic.X_thresholds_.astype(float).tolist(),
        "y": isotonic.y_thresholds_.astype(float).tolist(),
    }


def fit_platt(scores: np.ndarray, outcomes: np.ndarray) -> dict:
    """Fit ``sigmoid(a * logit(score) + b)``; returns ``{"method": "platt", "a", "b"}``."""
    logit = _logit(scores).reshape(-1, 1)
    model = LogisticRegression(C=1e6).fit(logit, outcomes)
    return {"method": "platt", "a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}


def fit_calibration(scores: np.ndarray, outcomes: np.ndarray, method: str = "isotonic") -> dict:
    """Fit the calibration ``method`` (``isotonic`` or ``platt``) on validation scores."""
    if method == "isotonic":
        return fit_isotonic(scores, outcomes)
    if method == "platt":
        return fit_platt(scores, outcomes)
    raise ValueError(f"unknown calibration method {method!r}: use isotonic or platt")


def apply_calibration(calibration: dict, scores: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of shape (n_samples,) for raw ``scores``."""
    if calibration["method"] == "isotonic":
        return np.interp(scores, calibration["x"], calibration["y"])
    z = calibration["a"] * _logit(scores) + calibration["b"]
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def fit_interval_offset(
    days: np.ndarray, p10: np.ndarray, p90: np.ndarray, coverage: float = 0.8
) -> float:
    """Days to widen (or narrow, if negative) p10..p90 so that ``coverage`` of ``days`` fall in.

    Conformalised quantile regression on the validation window: the offset is the
    ``coverage`` quantile (with the finite-sample correction) of how far each outcome lies
    outside its interval.
    """
    outside = np.maximum(p10 - days, days - p90)
    n = len(outside)
    level = min(1.0, np.ceil((n + 1) * coverage) / n)
    return float(np.quantile(outside, level, method="higher"))
