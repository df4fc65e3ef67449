"""The registry gate both ways, the logged pyfunc, and export to a self-contained bundle.

Every test uses its own SQLite tracking store and artifact folder under tmp_path.
"""

import uuid

import mlflow
import numpy as np
import pytest

from serving.bundle import load_bundle
from serving.engine import EngineError, read_models
from tests.training.conftest import small_params
from training import tracking
from training.run import train_and_log


@pytest.fixture
def tracking_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.use_tracking(uri, f"test-{uuid.uuid4().hex[:8]}", tmp_path / "artifacts")
    yield tmp_path
    mlflow.set_tracking_uri(None)


WORSE = {"num_leaves": 2, "learning_rate": 0.01, "feature_fraction": 0.3, "seed": 3}


def test_gate_promotes_only_a_better_model(tracking_dir, training_data) -> None:
    worse = small_params(**WORSE)
    worse["lightgbm"]["num_boost_round"] = 1
    first = train_and_log(training_data, worse, targets=("late",), with_plots=False)
    assert first.decisions["late"].promoted
    assert first.decisions["late"].reason == "no champion yet"

    better = train_and_log(training_data, small_params(), targets=("late",), with_plots=False)
    decision = better.decisions["late"]
    assert decision.promoted and decision.champion_version == "1"
    # The champion was scored on the same test window as the new model.
    first_auc = first.evaluations["late"]["overall"]["lightgbm"]["roc_auc"]
    assert decision.champion_value == pytest.approx(first_auc)
    assert decision.new_value > decision.champion_value
    assert tracking.alias_version("late", "champion") == "2"

    again = train_and_log(training_data, worse, targets=("late",), with_plots=False)
    assert not again.decisions["late"].promoted
    assert "does not beat" in again.decisions["late"].reason
    assert tracking.alias_version("late", "champion") == "2"
    assert tracking.alias_version("late", "challenger") == "3"
    run = mlflow.get_run(again.run_id)
    assert run.data.metrics["gate.late.champion.roc_auc"] == pytest.approx(decision.new_value)
    assert run.data.tags["gate.late"].startswith("challenger: ")


def test_pyfunc_returns_probabilities_and_export_needs_no_tracking(
    tracking_dir, training_data, tmp_path, monkeypatch
) -> None:
    outcome = train_and_log(training_data, small_params())
    assert set(outcome.decisions) == {"late", "dispute", "days_to_pay"}
    frame = training_data.features.head(20)
    served = mlflow.pyfunc.load_model("models:/arbiter-late@champion").predict(frame)
    expected = outcome.bundle.predict(frame.to_numpy(np.float64))
    assert list(served.columns) == ["p_late"]
    np.testing.assert_allclose(served["p_late"], expected["p_late"])
    days = mlflow.pyfunc.load_model("models:/arbiter-days-to-pay@champion").predict(frame)
    assert list(days.columns) == ["days_p10", "days_p50", "days_p90"]

    out = tracking.export_bundle("champion", tmp_path / "models" / "champion")
    mlflow.set_tracking_uri("sqlite:////nonexistent/elsewhere.db")  # no store reachable
    bundle = load_bundle(out)
    assert bundle.versions == {"late": "1", "dispute": "1", "days_to_pay": "1"}
    exported = bundle.predict(frame.to_numpy(np.float64))
    for key, values in expected.items():
        np.testing.assert_allclose(exported[key], values)
    assert bundle.manifest["book_hash"] == training_data.book_hash


def test_the_service_reads_the_champion_from_the_registry(
    tracking_dir, training_data, monkeypatch
) -> None:
    outcome = train_and_log(training_data, small_params())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.get_tracking_uri())
    served = read_models("models:/arbiter@champion")
    assert served.versions == {"late": "1", "dispute": "1", "days_to_pay": "1"}
    rows = training_data.features.head(20).to_numpy(np.float64)
    expected = outcome.bundle.predict(rows)
    for key, values in served.predict(rows).items():
        np.testing.assert_allclose(values, expected[key])
    with pytest.raises(EngineError, match="no version with alias 'nobody'"):
        read_models("models:/arbiter@nobody")
    with pytest.raises(EngineError, match=r"give models:/arbiter@<alias>"):
        read_models("models:/arbiter-late/1")


def test_export_of_a_missing_alias_says_what_to_do(tracking_dir, tmp_path) -> None:
    with pytest.raises(ValueError, match="no version with alias 'champion'"):
        tracking.export_bundle("champion", tmp_path / "out", targets=("late",))
    assert not (tmp_path / "out").exists()


def test_decide_needs_a_real_improvement() -> None:
    kept = tracking.decide("late", "roc_auc", True, "4", 0.801, "3", 0.8, min_improvement=0.005)
    assert not kept.promoted
    moved = tracking.decide("days_to_pay", "pinball", False, "4", 2.0, "3", 2.5)
    assert moved.promoted and "beats" in moved.reason
