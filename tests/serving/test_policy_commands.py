"""The policy's command line on a simulator book and a small model bundle built here."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from serving.policy import commands

WINDOW = ["--from", "2023-05-01", "--to", "2023-07-31"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


@pytest.fixture(scope="module")
def book_and_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from features.offline import build_features
    from features.simulator import SimulationConfig, simulate_book
    from features.simulator.cli import write_simulated_book
    from serving.bundle import ModelBundle
    from serving.policy.backtest import book_outcomes

    folder = tmp_path_factory.mktemp("policy_cli")
    simulated = simulate_book(SimulationConfig(customers=60, months=8, seed=21))
    write_simulated_book(simulated, folder / "book")
    book = simulated.to_book()
    features = build_features(book)
    names = [c for c in features.columns if c not in ("invoice_id", "customer_id", "as_of")]
    outcomes = book_outcomes(book.tables, book.as_of).set_index("invoice_id")
    outcomes = outcomes.reindex(features["invoice_id"])
    boosters = {}
    for target, column in (("late", "went_late"), ("dispute", "disputed")):
        known = outcomes[column].notna().to_numpy()
        data = lgb.Dataset(features.loc[known, names], outcomes[column].to_numpy()[known])
        params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1}
        boosters[target] = lgb.train(params, data, num_boost_round=20)
    platt = {"method": "platt", "a": 1.0, "b": 0.0}
    bundle = ModelBundle(names, boosters, {"late": platt, "dispute": platt}, {})
    bundle.save(folder / "models")
    return folder / "book", folder / "models"


def test_check_policy_reports_a_valid_file_and_the_problems_of_a_bad_one(
    app: typer.Typer, tmp_path: Path
) -> None:
    from serving.policy.engine import default_policy_path

    ok = CliRunner().invoke(app, ["check-policy", str(default_policy_path())])
    assert ok.exit_code == 0, ok.output
    assert "valid, policy 'default'" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(default_policy_path().read_text().replace("cust_insolvent", "cust_insolvant"))
    failed = CliRunner().invoke(app, ["check-policy", str(bad)])
    assert failed.exit_code == 2
    assert f"{bad}:34:34" in failed.output.replace("\n", "")
    assert "cust_insolvant" in failed.output


def test_backtest_compares_two_policies_and_writes_csv(
    app: typer.Typer, book_and_models: tuple[Path, Path], tmp_path: Path
) -> None:
    from serving.policy.engine import default_policy_path

    book, models = book_and_models
    stricter = tmp_path / "stricter.yaml"
    text = default_policy_path().read_text().replace("high_late_risk: 0.6 ", "high_late_risk: 0.8 ")
    stricter.write_text(text)
    args = ["backtest", "--book", str(book), *WINDOW, "--vs", str(stricter)]
    result = CliRunner().invoke(
        app, [*args, "--models", str(models), "--out", str(tmp_path / "out"), "--no-mlflow"]
    )
    assert result.exit_code == 0, result.output
    assert "Backtest by owner" in result.output
    table = pd.read_csv(tmp_path / "out" / "backtest_by_owner.csv", header=[0, 1], index_col=0)
    assert table.loc["routed", ("invoices", "A")] > 0
    owners = ["finance", "revenue_owner", "joint", "none"]
    assert table.loc[owners, ("invoices", "A")].sum() == table.loc[owners, ("invoices", "B")].sum()
    workload = pd.read_csv(tmp_path / "out" / "workload_A.csv")
    assert set(workload["team"]) <= {"finance", "revenue_owner"}


def test_backtest_logs_to_mlflow(
    app: typer.Typer,
    book_and_models: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    book, models = book_and_models
    args = ["backtest", "--book", str(book), *WINDOW, "--models", str(models)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["arbiter-policy"])
    assert len(runs) == 1
    assert runs.loc[0, "metrics.A.routed.invoices"] > 0
    assert runs.loc[0, "params.policy_A"].startswith("default@sha256:")


def test_tune_policy_writes_a_valid_policy_within_capacity(
    app: typer.Typer, book_and_models: tuple[Path, Path], tmp_path: Path
) -> None:
    from features.book import load_book
    from serving.bundle import load_bundle
    from serving.policy.backtest import backtest_policy
    from serving.policy.engine import load_policy
    from serving.policy.replay import replay_history

    book, models = book_and_models
    history = replay_history(load_book(book)[0], load_bundle(models), WINDOW[1], WINDOW[3])
    busiest = backtest_policy(load_policy(), history).team_weeks.max()
    finance = int(busiest["finance"]) - 2
    out = tmp_path / "proposed.yaml"
    capacity = f"finance={finance},revenue_owner=1000/week"
    args = ["tune-policy", "--capacity", capacity, "--book", str(book), *WINDOW]
    result = CliRunner().invoke(
        app, [*args, "--models", str(models), "--out", str(out), "--passes", "1"]
    )
    assert result.exit_code == 0, result.output
    proposed = load_policy(out)
    assert proposed.version != load_policy().version
    assert "current = default@" in result.output
    assert f"proposed = default@{proposed.version}" in result.output
    assert "# p_late at or above: act on the late risk" in out.read_text()
    assert "no candidate fits" not in result.output
    tuned = backtest_policy(proposed, history).team_weeks.max()
    assert tuned["finance"] <= finance
    text = " ".join(result.output.split())
    assert f"busiest week finance {tuned['finance']}," in text


def test_bad_window_and_capacity_are_reported(
    app: typer.Typer, book_and_models: tuple[Path, Path]
) -> None:
    book, models = book_and_models
    empty = CliRunner().invoke(
        app,
        [
            "backtest",
            "--book",
            str(book),
            "--from",
            "2030-01-01",
            "--to",
            "2030-02-01",
            "--models",
            str(models),
            "--no-mlflow",
        ],
    )
    assert empty.exit_code == 2
    assert "no invoice issued between 2030-01-01 and 2030-02-01" in empty.output
    capacity = CliRunner().invoke(
        app, ["tune-policy", "--capacity", "sales=3", "--book", str(book), *WINDOW]
    )
    assert capacity.exit_code == 2
    assert "capacity entry 'sales=3'" in capacity.output
