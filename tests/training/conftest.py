"""Small hand-made training data with a known signal, for fast model and registry tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.labels import make_labels
from training.params import load_params
from training.pipeline import TrainingData, assemble_training_data

FEATURES = ["hist_late_share", "disp_per_invoice", "hist_days_to_pay_mean", "noise"]


def synthetic_data(n: int = 4000, seed: int = 0, days: int = 600) -> TrainingData:
    """Invoices whose late, dispute and pay-date outcomes follow the first three features."""
    rng = np.random.default_rng(seed)
    issue = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.sort(rng.integers(0, days, n)), "D")
    risk, friction, noise = rng.random(n), rng.random(n), rng.normal(size=n)
    late = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 3 * risk)))
    delay = np.where(late, rng.integers(1, 40, n), -rng.integers(0, 10, n))
    due = issue + pd.Timedelta(days=30)
    paid = pd.Series(due + pd.to_timedelta(delay, "D"))
    as_of = issue.max() + pd.Timedelta(days=1)
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"INV{i:05d}" for i in range(n)],
            "customer_id": [f"C{i % 50:02d}" for i in range(n)],
            "issue_date": issue,
            "due_date": due,
            "paid_date": paid.where(paid <= as_of),
            "amount": rng.uniform(100, 5000, n).round(2),
        }
    )
    disputed = rng.random(n) < 1 / (1 + np.exp(-(-3.5 + 3 * friction)))
    disputes = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"][disputed],
            "opened_date": issue[disputed] + pd.Timedelta(days=5),
        }
    )
    disputes = disputes[disputes["opened_date"] <= as_of]
    labels = make_labels(invoices, disputes, as_of, dispute_window_days=30, horizon_days=90)
    features = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"],
            "hist_late_share": risk + rng.normal(0, 0.1, n),
            "disp_per_invoice": friction,
            "hist_days_to_pay_mean": 30 + 20 * risk,
            "noise": noise,
        }
    )
    customers = pd.DataFrame(
        {"customer_id": [f"C{i:02d}" for i in range(50)], "segment": ["small", "enterprise"] * 25}
    )
    return assemble_training_data(
        features,
        labels,
        FEATURES,
        [],
        {"cust_segment": "needs table customers"},
        customers,
        as_of,
        f"synthetic-{seed}",
        small_params(),
    )


def small_params(**lightgbm_late: object) -> dict:
    """Default parameters with short windows and few trees, for a 600-day book."""
    params = load_params()
    params["labels"].update(dispute_window_days=30, days_to_pay_horizon_days=90)
    params["splits"].update(valid_days=60, test_days=60)
    params["lightgbm"].update(num_boost_round=60, early_stopping_rounds=10)
    params["lightgbm"]["late"] = dict(lightgbm_late)
    params["evaluation"]["new_customer_days"] = 30
    return params


@pytest.fixture(scope="session")
def training_data() -> TrainingData:
    return synthetic_data()
