"""Calibration fitted on validation, applied with NumPy; metrics on known values."""

import numpy as np
import pytest

from serving.bundle import apply_calibration as serving_apply
from training.calibration import apply_calibration, fit_calibration, fit_interval_offset
from training.metrics import (
    classification_metrics,
    expected_calibration_error,
    quantile_metrics,
    top_share_metrics,
)


def miscalibrated(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, outcomes, and over-confident scores (squared probabilities)."""
    rng = np.random.default_rng(seed)
    truth = rng.beta(2, 5, n)
    outcomes = (rng.random(n) < truth).astype(float)
    return truth, outcomes, truth**2


@pytest.mark.parametrize("method", ["isotonic", "platt"])
@pytest.mark.parametrize("seed", range(4))
def test_calibration_fixes_miscalibrated_scores(method: str, seed: int) -> None:
    _, outcomes, scores = miscalibrated(seed)
    _, test_outcomes, test_scores = miscalibrated(seed + 100)
    calibration = fit_calibration(scores, outcomes, method)
    calibrated = apply_calibration(calibration, test_scores)
    assert calibrated.min() >= 0 and calibrated.max() <= 1
    before = expected_calibration_error(test_outcomes, test_scores)
    after = expected_calibration_error(test_outcomes, calibrated)
    assert before > 0.05 and after < 0.02
    brier_before = np.mean((test_scores - test_outcomes) ** 2)
    assert np.mean((calibrated - test_outcomes) ** 2) < brier_before


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_serving_applies_the_same_calibration(method: str) -> None:
    _, outcomes, scores = miscalibrated(7)
    calibration = fit_calibration(scores, outcomes, method)
    grid = np.linspace(0, 1, 101)
    assert np.allclose(serving_apply(calibration, grid), apply_calibration(calibration, grid))


def test_isotonic_is_plain_monotone_arrays() -> None:
    _, outcomes, scores = miscalibrated(3)
    calibration = fit_calibration(scores, outcomes, "isotonic")
    assert isinstance(calibration["x"], list) and isinstance(calibration["y"][0], float)
    assert np.all(np.diff(calibration["x"]) >= 0) and np.all(np.diff(calibration["y"]) >= 0)


@pytest.mark.parametrize("seed", range(3))
def test_interval_offset_reaches_the_coverage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = rng.gamma(4, 10, 5000)
    p10, p90 = np.full(5000, 30.0), np.full(5000, 45.0)  # far too narrow
    offset = fit_interval_offset(days, p10, p90, coverage=0.8)
    test = rng.gamma(4, 10, 5000)
    covered = np.mean((test >= p10 - offset) & (test <= p90 + offset))
    assert offset > 0 and 0.77 < covered < 0.83


def test_ece_of_perfect_and_of_constant_wrong_scores() -> None:
    truth, outcomes, _ = miscalibrated(0, 200_000)
    assert expected_calibration_error(outcomes, truth) < 0.005
    assert expected_calibration_error(np.array([1.0, 0, 1, 0]), np.full(4, 0.9)) == pytest.approx(
        0.4
    )


def test_lift_and_amount_captured_by_hand() -> None:
    outcomes = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], float)
    probs = np.linspace(1, 0, 10)
    amounts = np.array([30, 1, 1, 1, 1, 1, 1, 1, 1, 70], float)
    lift, captured = top_share_metrics(outcomes, probs, amounts, 0.1)
    assert lift == pytest.approx(1.0 / 0.2)
    assert captured == pytest.approx(0.3)


def test_classification_metrics_values() -> None:
    outcomes = np.array([0, 0, 1, 1], float)
    metrics = classification_metrics(outcomes, np.array([0.1, 0.4, 0.35, 0.8]))
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert metrics["rate"] == 0.5
    single = classification_metrics(np.zeros(4), np.full(4, 0.1))
    assert np.isnan(single["roc_auc"])


def test_quantile_metrics_values() -> None:
    days = np.array([10.0, 20, 30, 40])
    metrics = quantile_metrics(days, np.full(4, 15.0), np.full(4, 25.0), np.full(4, 35.0))
    assert metrics["mae"] == 10.0
    assert metrics["coverage_p10_p90"] == 0.5
    assert metrics["interval_width"] == 20.0
