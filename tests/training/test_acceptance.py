"""Acceptance on a small simulated book: close to the oracle, calibrated, ahead of baselines.

The issue's figures are for 200,000+ invoices (late ROC-AUC within 0.03 of the oracle's,
dispute within 0.05, ECE <= 0.02, p10-p90 coverage 75-85 %); about 30,000 invoices leave
about a seventh of that for training and testing, so the tolerances here are wider by the
sampling error of a test window of ~3,500 invoices.
"""

import pytest

from training.params import load_params
from training.pipeline import (
    bundle_of,
    evaluate_target,
    lightgbm_beats_baselines,
    predict_test_window,
    prepare_training_data,
    train_target,
)


@pytest.fixture(scope="module")
def evaluations() -> dict[str, dict]:
    from features.simulator import SimulationConfig, simulate_book

    sim = simulate_book(SimulationConfig.for_invoices(30_000, months=24, seed=11))
    params = load_params()
    data = prepare_training_data(sim.to_book(), params, sim.oracle)
    models = {t: train_target(data, t, params) for t in ("late", "dispute", "days_to_pay")}
    bundle = bundle_of(models, data, {"targets": {}})
    return {
        t: evaluate_target(predict_test_window(bundle, data, t, m.split, m.baseline_test), t)
        for t, m in models.items()
    }


@pytest.mark.slow
@pytest.mark.parametrize("target, max_gap", [("late", 0.07), ("dispute", 0.07)])
def test_close_to_the_oracle_and_calibrated(evaluations, target: str, max_gap: float) -> None:
    overall = evaluations[target]["overall"]
    assert overall["oracle"]["n"] == overall["lightgbm"]["n"] > 3000
    assert 0 < evaluations[target]["oracle_gap"]["roc_auc"] <= max_gap
    assert overall["lightgbm"]["ece"] <= 0.035


@pytest.mark.slow
def test_pay_date_range_covers_about_eighty_percent(evaluations) -> None:
    coverage = evaluations["days_to_pay"]["overall"]["lightgbm"]["coverage_p10_p90"]
    assert 0.72 <= coverage <= 0.88


@pytest.mark.slow
@pytest.mark.parametrize("target", ["late", "days_to_pay"])
def test_lightgbm_ahead_of_both_baselines(evaluations, target: str) -> None:
    assert lightgbm_beats_baselines(evaluations[target], target)


@pytest.mark.slow
def test_dispute_lightgbm_level_with_or_ahead_of_baselines(evaluations) -> None:
    # Dispute causes add up almost linearly, so the logistic baseline is close; on ~3,900
    # test invoices (8 % disputed) one standard error of ROC-AUC is about 0.016 (Hanley and
    # McNeil): LightGBM may trail by at most half of it here, and must lead on 200k invoices.
    assert lightgbm_beats_baselines(evaluations["dispute"], "dispute", tolerance=0.008)
    overall = evaluations["dispute"]["overall"]
    assert overall["lightgbm"]["roc_auc"] > overall["history"]["roc_auc"] + 0.1
