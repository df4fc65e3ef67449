"""Backtest and capacity tuning: exact figures on a hand-made history, then a simulator book."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.policy.backtest import (
    backtest_policy,
    book_outcomes,
    compare_backtests,
    team_cases,
)
from serving.policy.engine import load_policy, policy_from_text
from serving.policy.tuning import parse_capacity, rewrite_parameters, tune_policy

SMALL = """\
policy: small
parameters:
  late_cut: 0.5     # late risk that goes to collections
  dispute_cut: 0.5
tiers: {P1: 1000, P2: 100, P3: 10}
tables:
  - name: routing
    rows:
      - id: both
        when: p_late >= late_cut and p_dispute >= dispute_cut
        owner: joint
        action: joint_review
        explanation: Both.
      - id: late
        when: p_late >= late_cut
        owner: finance
        action: collections_call
        explanation: Late.
      - id: dispute
        when: p_dispute >= dispute_cut
        owner: revenue_owner
        action: resolve_root_cause
        explanation: Dispute.
      - id: rest
        owner: none
        action: monitor
        explanation: Rest.
"""


def hand_history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "p_late": [0.9, 0.6, 0.1, 0.1, 0.8],
            "p_dispute": [0.1, 0.2, 0.7, 0.1, 0.0],
            "amount": [100.0, 200.0, 300.0, 400.0, 500.0],
            "collector_id": ["c1", "c1", "c1", "c1", "c2"],
            "revenue_owner_id": ["r1", "r1", "r1", "r1", "r2"],
            "issue_date": pd.to_datetime(
                ["2025-01-06", "2025-01-08", "2025-01-13", "2025-01-07", "2025-01-19"]
            ),
            "went_late": [1.0, 0.0, 0.0, 1.0, np.nan],
            "disputed": [0.0, 0.0, 1.0, 0.0, np.nan],
        }
    )


def test_backtest_figures_per_owner_on_a_hand_made_history() -> None:
    result = backtest_policy(policy_from_text(SMALL), hand_history())
    table = result.by_owner
    assert table.loc["finance"].to_dict() == {
        "invoices": 3,
        "amount": 800.0,
        "amount_at_risk": pytest.approx(0.9 * 100 + 0.6 * 200 + 0.8 * 500),
        "precision": 0.5,
        "late_amount_captured": 0.2,
        "disputes_captured": 0.0,
        "unknown_outcomes": 1,
    }
    assert table.loc["revenue_owner", ["invoices", "precision", "disputes_captured"]].tolist() == [
        1,
        1.0,
        1.0,
    ]
    assert table.loc["none", ["invoices", "late_amount_captured"]].tolist() == [1, 0.8]
    assert table.loc["joint", "invoices"] == 0
    assert table.loc["routed", ["invoices", "amount"]].tolist() == [4, 1100.0]
    assert table.loc["routed", "precision"] == pytest.approx(2 / 3)


def test_weekly_workload_per_assignee_and_team() -> None:
    result = backtest_policy(policy_from_text(SMALL), hand_history())
    assert result.team_weeks.to_dict("index") == {
        pd.Timestamp("2025-01-06"): {"finance": 2, "revenue_owner": 0},
        pd.Timestamp("2025-01-13"): {"finance": 1, "revenue_owner": 1},
    }
    workload = result.workload.set_index("assignee")
    assert workload.loc["c1", ["team", "cases", "mean_per_week", "max_per_week"]].tolist() == [
        "finance",
        2,
        1.0,
        2,
    ]
    assert workload.loc["c2", "cases"] == 1
    assert workload.loc["r1", ["team", "cases"]].tolist() == ["revenue_owner", 1]


def test_a_joint_case_counts_for_both_teams() -> None:
    history = hand_history()
    history.loc[0, "p_dispute"] = 0.9
    result = backtest_policy(policy_from_text(SMALL), history)
    cases = team_cases(result.decisions)
    first_week = cases[cases["week"] == pd.Timestamp("2025-01-06")]
    assert sorted(zip(first_week["team"], first_week["assignee"], strict=True)) == [
        ("finance", "c1"),
        ("finance", "c1"),
        ("revenue_owner", "r1"),
    ]


def test_backtest_names_a_missing_outcome_column() -> None:
    with pytest.raises(ValueError, match="lacks column 'disputed'"):
        backtest_policy(policy_from_text(SMALL), hand_history().drop(columns="disputed"))


def test_capacity_parsing() -> None:
    assert parse_capacity("finance=400,revenue_owner=150/week") == {
        "finance": 400.0,
        "revenue_owner": 150.0,
    }
    with pytest.raises(ValueError, match="'sales=3'"):
        parse_capacity("finance=4,sales=3")
    with pytest.raises(ValueError, match="'finance:4'"):
        parse_capacity("finance:4")


def test_rewriting_parameters_keeps_the_file_and_changes_the_values() -> None:
    policy = policy_from_text(SMALL)
    text = rewrite_parameters(policy.spec, {"late_cut": 0.35, "dispute_cut": 0.7})
    assert "late_cut: 0.35     # late risk that goes to collections" in text
    rewritten = policy_from_text(text)
    assert rewritten.spec.parameters["dispute_cut"].value == 0.7
    assert rewritten.version != policy.version
    assert text.replace("0.35", "0.5").replace("0.7", "0.5") == SMALL


@pytest.fixture(scope="module")
def simulated_history() -> pd.DataFrame:
    from features.offline import build_features
    from features.simulator import SimulationConfig, simulate_book
    from serving.policy.frames import decision_inputs

    simulated = simulate_book(SimulationConfig(customers=80, months=8, seed=11))
    book = simulated.to_book()
    features = build_features(book)
    oracle = simulated.oracle.set_index("invoice_id").reindex(features["invoice_id"])
    scores = {"p_late": oracle["p_late"].to_numpy(), "p_dispute": oracle["p_dispute"].to_numpy()}
    inputs = decision_inputs(features, scores, book.tables)
    outcomes = book_outcomes(book.tables, book.as_of).set_index("invoice_id")
    outcomes = outcomes.reindex(inputs["invoice_id"]).reset_index(drop=True)
    return pd.concat([inputs, outcomes[["issue_date", "went_late", "disputed"]]], axis=1)


def test_backtest_on_a_simulator_book(simulated_history: pd.DataFrame) -> None:
    default = load_policy()
    stricter = policy_from_text(
        default.spec.text.replace("high_late_risk: 0.6 ", "high_late_risk: 0.8 ")
    )
    result = backtest_policy(default, simulated_history)
    table = result.by_owner
    owners = ["finance", "revenue_owner", "joint", "none"]
    assert table.loc[owners, "invoices"].sum() == len(simulated_history)
    assert table.loc[owners, "amount"].sum() == pytest.approx(simulated_history["amount"].sum())
    assert table.loc[owners, "late_amount_captured"].sum() == pytest.approx(1.0)
    assert table.loc["routed", "precision"] > table.loc["none", "precision"]
    assert result.workload["cases"].sum() == len(team_cases(result.decisions))
    side_by_side = compare_backtests(
        {"A": result, "B": backtest_policy(stricter, simulated_history)}
    )
    assert side_by_side[("invoices", "A")].loc["routed"] == table.loc["routed", "invoices"]
    assert side_by_side[("invoices", "B")].loc["finance"] != table.loc["finance", "invoices"]


GRID = {
    "high_late_risk": (0.5, 0.6, 0.7, 0.8, 0.9),
    "low_late_risk": (0.2, 0.3, 0.4, 0.5),
    "low_dispute_risk": (0.1, 0.2, 0.3, 0.4),
}


def test_tuned_thresholds_respect_capacity(simulated_history: pd.DataFrame) -> None:
    default = load_policy()
    start = backtest_policy(default, simulated_history).team_weeks.max()
    lightest = {"high_late_risk": 0.9, "low_late_risk": 0.5, "low_dispute_risk": 0.4}
    light = policy_from_text(rewrite_parameters(default.spec, lightest))
    least = backtest_policy(light, simulated_history).team_weeks.max()
    assert least["finance"] < start["finance"]
    capacity = {
        "finance": float((least["finance"] + start["finance"]) // 2),
        "revenue_owner": float(max(least["revenue_owner"], start["revenue_owner"])),
    }
    result = tune_policy(default, simulated_history, capacity, GRID, passes=2)
    assert result.start.overflow > 0
    assert result.within_capacity
    tuned_weeks = backtest_policy(result.policy, simulated_history).team_weeks.max()
    assert tuned_weeks["finance"] <= capacity["finance"]
    assert tuned_weeks["revenue_owner"] <= capacity["revenue_owner"]
    feasible = [c.captured for c in result.history if c.overflow == 0]
    assert result.best.captured == max(feasible)
    assert (
        result.policy.spec.parameters["low_late_risk"].value == result.best.values["low_late_risk"]
    )


def test_generous_capacity_routes_more_risk(simulated_history: pd.DataFrame) -> None:
    default = load_policy()
    capacity = {"finance": 10_000.0, "revenue_owner": 10_000.0}
    result = tune_policy(default, simulated_history, capacity, GRID, passes=1)
    assert result.start.overflow == 0
    assert result.best.captured > result.start.captured
    assert result.best.values["low_late_risk"] == 0.2
