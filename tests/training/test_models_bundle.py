"""LightGBM per target, its baselines, and the serving bundle that carries the models."""

import subprocess
import sys

import numpy as np
import pytest

from serving.bundle import BundleError, load_bundle
from tests.training.conftest import small_params
from training.pipeline import (
    bundle_of,
    evaluate_target,
    lightgbm_beats_baselines,
    predict_test_window,
    raw_calibrated,
    train_target,
)


@pytest.fixture(scope="module")
def trained(training_data):
    params = small_params()
    models = {t: train_target(training_data, t, params) for t in ("late", "dispute", "days_to_pay")}
    return models, bundle_of(models, training_data, {"targets": {t: {} for t in models}})


def test_models_learn_the_signal(trained, training_data) -> None:
    models, bundle = trained
    late = predict_test_window(
        bundle, training_data, "late", models["late"].split, models["late"].baseline_test
    )
    evaluation = evaluate_target(late, "late")
    assert evaluation["overall"]["lightgbm"]["roc_auc"] > 0.7
    assert evaluation["overall"]["lightgbm"]["ece"] < 0.08
    assert set(evaluation["segment"]) == {"small", "enterprise"}
    assert set(evaluation["customer_type"]) == {"returning"}
    days = predict_test_window(
        bundle,
        training_data,
        "days_to_pay",
        models["days_to_pay"].split,
        models["days_to_pay"].baseline_test,
    )
    coverage = evaluate_target(days, "days_to_pay")["overall"]["lightgbm"]["coverage_p10_p90"]
    assert 0.65 < coverage < 0.95


def test_higher_risk_feature_never_lowers_p_late(trained, training_data) -> None:
    _, bundle = trained
    rows = training_data.matrix(np.arange(len(training_data.labels)) < 50)
    column = training_data.feature_names.index("hist_late_share")
    low, high = rows.copy(), rows.copy()
    low[:, column], high[:, column] = 0.05, 0.95
    assert np.mean(bundle.predict(high)["p_late"] >= bundle.predict(low)["p_late"]) > 0.95


def test_bundle_round_trip_predicts_the_same(trained, training_data, tmp_path) -> None:
    models, bundle = trained
    loaded = load_bundle(bundle.save(tmp_path / "bundle"))
    X = training_data.matrix(np.ones(len(training_data.labels), bool))[:500]
    before, after = bundle.predict(X), loaded.predict(X)
    assert set(after) == {"p_late", "p_dispute", "days_p10", "days_p50", "days_p90"}
    for key in before:
        np.testing.assert_allclose(after[key], before[key])
    np.testing.assert_allclose(after["p_late"], raw_calibrated(models["late"], X))
    assert ((after["p_late"] >= 0) & (after["p_late"] <= 1)).all()
    assert (after["days_p10"] <= after["days_p50"]).all()
    assert (after["days_p50"] <= after["days_p90"]).all()
    assert loaded.feature_names == training_data.feature_names
    assert loaded.versions == {
        "late": "unregistered",
        "dispute": "unregistered",
        "days_to_pay": "unregistered",
    }


def test_contributions_add_up_to_the_raw_score(trained, training_data) -> None:
    _, bundle = trained
    x = training_data.matrix(np.ones(len(training_data.labels), bool))[7]
    contributions = bundle.contributions(x)
    assert set(contributions) == {"late", "dispute", "days_to_pay"}
    assert contributions["late"].shape == (len(training_data.feature_names) + 1,)
    raw = bundle.boosters["late"].predict(x.reshape(1, -1), raw_score=True)[0]
    assert contributions["late"].sum() == pytest.approx(raw)
    names = training_data.feature_names
    assert abs(contributions["dispute"][names.index("disp_per_invoice")]) > 0


def test_single_row_scores_equal_batch_scores(trained, training_data) -> None:
    _, bundle = trained
    rows = training_data.matrix(np.ones(len(training_data.labels), bool))[:200].copy()
    rows[::3, ::4] = np.nan  # unknown values take the models' missing-value branches
    batch = bundle.predict(rows)
    for i, row in enumerate(rows):
        single = bundle.score_row(row)
        assert set(single) == set(batch)
        for key, value in single.items():
            assert value == pytest.approx(batch[key][i], abs=1e-12)


def test_path_credits_add_up_for_every_target_and_follow_the_path(trained, training_data) -> None:
    _, bundle = trained
    rows = training_data.matrix(np.ones(len(training_data.labels), bool))[:50]
    keys = {"late": "late", "dispute": "dispute", "days_to_pay": "days_to_pay_p50"}
    for row in rows:
        credits = bundle.contributions(row)
        for target, key in keys.items():
            raw = bundle.boosters[key].predict(row.reshape(1, -1), raw_score=True)[0]
            assert credits[target].sum() == pytest.approx(raw, abs=1e-9)
            # A feature no tree splits on gets no credit.
            used = bundle.boosters[key].feature_importance("split") > 0
            assert np.all(credits[target][:-1][~used] == 0)


def test_bundle_errors_name_the_problem(trained, tmp_path) -> None:
    _, bundle = trained
    with pytest.raises(BundleError, match="manifest.json: missing"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError, match="expected rows of 4 features"):
        bundle.predict(np.zeros((2, 3)))
    folder = bundle.save(tmp_path / "b")
    (folder / "late.txt").unlink()
    with pytest.raises(BundleError, match="late.txt: model file listed"):
        load_bundle(folder)


def test_lightgbm_beats_baselines_rule() -> None:
    evaluation = {
        "overall": {
            "lightgbm": {"roc_auc": 0.8},
            "logistic": {"roc_auc": 0.79},
            "history": {"roc_auc": 0.7},
        }
    }
    assert lightgbm_beats_baselines(evaluation, "late")
    evaluation["overall"]["logistic"]["roc_auc"] = 0.8
    assert not lightgbm_beats_baselines(evaluation, "late")
    days = {
        "overall": {
            "lightgbm": {"pinball": 3.0},
            "logistic": {"pinball": 3.5},
            "history": {"pinball": 2.9},
        }
    }
    assert not lightgbm_beats_baselines(days, "days_to_pay")
    assert lightgbm_beats_baselines(days, "days_to_pay", tolerance=0.2)
    assert lightgbm_beats_baselines(evaluation, "late", tolerance=0.001)


def test_serving_bundle_imports_nothing_from_training() -> None:
    code = "import sys, serving.bundle; print([m for m in sys.modules if m.startswith('training')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
