"""Time-ordered splits with label maturity at each boundary."""

import numpy as np
import pandas as pd
import pytest

from training.labels import make_labels
from training.splits import SplitError, assign_splits, plan_splits, split_counts


def daily_book(
    days: int = 720, terms: int = 30, seed: int = 0
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Two invoices a day; half paid within terms, a quarter late, a quarter unpaid."""
    rng = np.random.default_rng(seed)
    issue = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.repeat(np.arange(days), 2), "D")
    due = issue + pd.Timedelta(days=terms)
    delay = rng.integers(-20, 40, len(issue))
    paid = due + pd.to_timedelta(delay, "D")
    as_of = issue.max() + pd.Timedelta(days=1)
    paid = paid.where(paid <= as_of)
    frame = pd.DataFrame(
        {
            "invoice_id": [f"I{i}" for i in range(len(issue))],
            "customer_id": "C1",
            "issue_date": issue,
            "due_date": due,
            "paid_date": paid,
            "amount": 10.0,
        }
    )
    return frame, as_of


@pytest.mark.parametrize("target", ["late", "days_to_pay"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_label_is_mature_at_its_windows_cutoff(target: str, seed: int) -> None:
    invoices, as_of = daily_book(seed=seed)
    labels = make_labels(invoices, None, as_of, horizon_days=60)
    plan = plan_splits(labels, target, as_of, valid_days=60, test_days=60)
    split = assign_splits(labels, plan)
    mature_from = labels[f"{target}_mature_from"]
    for name in ("train", "valid", "test"):
        assert (mature_from[split == name] <= plan.cutoff(name)).all()
    # Training labels are known when validation opens, not merely by the book's as_of.
    assert plan.cutoff("train") == plan.valid_start
    assert labels.loc[split == "train", "issue_date"].max() < plan.valid_start
    assert labels.loc[split == "valid", "issue_date"].min() >= plan.valid_start
    assert labels.loc[split == "valid", "issue_date"].max() < plan.test_start
    assert labels.loc[split == "test", "issue_date"].max() < plan.test_end


def test_windows_are_time_ordered_and_sized() -> None:
    invoices, as_of = daily_book()
    labels = make_labels(invoices, None, as_of)
    plan = plan_splits(labels, "late", as_of, valid_days=60, test_days=45)
    assert plan.lag_days == 31  # 30-day terms + grace 0 + the day after
    assert plan.train_end == plan.valid_start < plan.valid_end == plan.test_start < plan.test_end
    assert plan.test_end == as_of + pd.Timedelta(days=1)
    # Each window spans its length plus one maturity lag, so that its length is mature.
    assert (plan.test_end - plan.test_start).days == 45 + 31
    assert (plan.valid_end - plan.valid_start).days == 60 + 31


def test_nothing_is_dropped_silently() -> None:
    invoices, as_of = daily_book()
    labels = make_labels(invoices, None, as_of)
    split = assign_splits(labels, plan_splits(labels, "late", as_of))
    counts = split_counts(split)
    assert sum(counts.values()) == len(labels)
    assert counts["immature"] > 0
    assert counts["train"] > counts["valid"] > 0
    # Every invoice issued in the test window and mature at as_of is evaluated.
    plan = plan_splits(labels, "late", as_of)
    in_test = labels["issue_date"] >= plan.test_start
    mature = labels["late_mature_from"] <= as_of
    assert (split[in_test & mature] == "test").all()
    assert (split[in_test & ~mature] == "immature").all()


def test_immature_invoice_inside_a_window_is_excluded_not_negative() -> None:
    invoices, as_of = daily_book()
    labels = make_labels(invoices, None, as_of)
    plan = plan_splits(labels, "late", as_of)
    # An invoice issued in the training window with long terms is not mature at valid_start.
    early = labels.index[labels["issue_date"] == plan.train_start][0]
    assert assign_splits(labels, plan)[early] == "train"
    labels.loc[early, "late_mature_from"] = plan.valid_start + pd.Timedelta(days=5)
    assert assign_splits(labels, plan)[early] == "immature"


def test_too_short_a_book_is_refused_with_the_days_needed() -> None:
    invoices, as_of = daily_book(days=200)
    labels = make_labels(invoices, None, as_of)
    with pytest.raises(SplitError, match="spans 200 days"):
        plan_splits(labels, "late", as_of)
