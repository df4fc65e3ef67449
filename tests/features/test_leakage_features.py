"""No leakage, as a property: changing or deleting events dated on or after t leaves every
feature at t unchanged, on simulated books at random as-of times. The same check run on a
deliberately leaky variant fails, so the check can fail."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.book import Book, validate_tables
from features.offline import build_features
from features.online import OnlineFeatures
from features.registry import feature_set
from features.schema import ACTIVITY_KINDS, DISPUTE_REASONS
from features.simulator import SimulationConfig, simulate_book

Builder = Callable[[Book, pd.DataFrame], pd.DataFrame]
SEEDS = (11, 12)
TIMES_PER_BOOK = 4


@pytest.fixture(scope="module", params=SEEDS)
def sim_book(request: pytest.FixtureRequest) -> Book:
    return simulate_book(SimulationConfig(customers=80, months=12, seed=request.param)).to_book()


def _later_days(rng: np.random.Generator, n: int) -> pd.TimedeltaIndex:
    return pd.to_timedelta(rng.integers(1, 40, n), unit="D")


def perturb_after(book: Book, t: pd.Timestamp, keep: set[str], rng: np.random.Generator) -> Book:
    """The book with every event dated on or after ``t`` deleted or changed.

    Invoices issued on or after ``t`` are deleted, except the scored ones in ``keep``; paid
    dates on or after ``t`` are removed or moved later; payments, disputes and activities
    dated on or after ``t`` are deleted or changed (amount, reason, kind, date).
    """
    tables = {name: frame.copy() for name, frame in book.tables.items()}
    invoices = tables["invoices"]
    invoices = invoices[(invoices["issue_date"] < t) | invoices["invoice_id"].isin(keep)].copy()
    late_paid = invoices["paid_date"] >= t
    clear = late_paid & (rng.random(len(invoices)) < 0.5)
    invoices.loc[late_paid, "paid_date"] += _later_days(rng, int(late_paid.sum()))
    invoices.loc[clear, "paid_date"] = pd.NaT
    tables["invoices"] = invoices
    known = set(invoices["invoice_id"])
    tables["payments"] = _perturb_payments(tables["payments"], t, known, rng)
    tables["disputes"] = _perturb_disputes(tables["disputes"], t, known, rng)
    tables["activities"] = _perturb_activities(tables["activities"], t, known, rng)
    perturbed, report = validate_tables(tables)
    assert report.total_rejected == 0, report.rejections.head().to_dict("records")
    perturbed.as_of = book.as_of
    return perturbed


def _perturb_payments(frame: pd.DataFrame, t, known: set[str], rng) -> pd.DataFrame:  # noqa: ANN001
    frame = frame[frame["invoice_id"].isin(known)].copy()
    after = frame["payment_date"] >= t
    frame.loc[after, "amount"] = (frame.loc[after, "amount"] * 0.5).round(2) + 0.01
    frame.loc[after, "payment_date"] += _later_days(rng, int(after.sum()))
    return frame[~(after & (rng.random(len(frame)) < 0.5))]


def _perturb_disputes(frame: pd.DataFrame, t, known: set[str], rng) -> pd.DataFrame:  # noqa: ANN001
    frame = frame[frame["invoice_id"].isin(known)].copy()
    opened_after = frame["opened_date"] >= t
    frame.loc[opened_after, "reason"] = rng.choice(DISPUTE_REASONS, int(opened_after.sum()))
    resolved_after = frame["resolved_date"] >= t
    frame.loc[resolved_after, "resolved_date"] += _later_days(rng, int(resolved_after.sum()))
    unresolve = resolved_after & (rng.random(len(frame)) < 0.5)
    frame.loc[unresolve, ["resolved_date", "resolution"]] = [pd.NaT, None]
    return frame[~(opened_after & (rng.random(len(frame)) < 0.5))]


def _perturb_activities(frame: pd.DataFrame, t, known: set[str], rng) -> pd.DataFrame:  # noqa: ANN001
    frame = frame.copy()
    frame.loc[~frame["invoice_id"].isin(known), "invoice_id"] = None
    after = frame["date"] >= t
    frame.loc[after, "kind"] = rng.choice(ACTIVITY_KINDS, int(after.sum()))
    frame.loc[after, "date"] += _later_days(rng, int(after.sum()))
    return frame[~(after & (rng.random(len(frame)) < 0.5))]


def changed_features(build: Builder, book: Book, t: pd.Timestamp, seed: int) -> set[str]:
    """Names of the features at ``t`` that change when events on or after ``t`` change."""
    rng = np.random.default_rng(seed)
    invoices = book.invoices
    candidates = invoices.loc[invoices["issue_date"] <= t, "invoice_id"].to_numpy()
    targets = rng.choice(candidates, min(250, len(candidates)), replace=False)
    as_of = pd.DataFrame({"invoice_id": targets, "as_of": t})
    before = build(book, as_of)
    after = build(perturb_after(book, t, set(targets), rng), as_of)
    names = [c for c in before.columns if c not in ("invoice_id", "customer_id", "as_of")]
    equal = (before[names] == after[names]) | (before[names].isna() & after[names].isna())
    return {name for name in names if not equal[name].all()}


def random_times(book: Book, rng: np.random.Generator) -> list[pd.Timestamp]:
    start = book.invoices["issue_date"].min() + pd.Timedelta(days=45)
    span = (book.as_of - start).days
    return [start + pd.Timedelta(days=int(d)) for d in rng.integers(0, span, TIMES_PER_BOOK)]


def build_all(book: Book, as_of: pd.DataFrame) -> pd.DataFrame:
    return build_features(book, as_of, feature_set(book))


def leaky_build(book: Book, as_of: pd.DataFrame) -> pd.DataFrame:
    """The real features, but late share filtered on issue date instead of paid date."""
    frame = build_all(book, as_of)
    invoices = book.invoices
    pairs = frame[["customer_id", "as_of"]].reset_index().merge(invoices, on="customer_id")
    prior = pairs[pairs["issue_date"] < pairs["as_of"]]
    settled = prior[prior["paid_date"].notna()]
    late = (settled["paid_date"] > settled["due_date"]).groupby(settled["index"]).mean()
    frame["hist_late_share"] = late.reindex(frame.index).to_numpy()
    return frame


def online_build(book: Book, as_of: pd.DataFrame) -> pd.DataFrame:
    """The online path after replaying the whole book, answering at each as-of date."""
    online = OnlineFeatures(feature_set(book)).replay(book)
    rows = [online.values(i, d) for i, d in zip(as_of["invoice_id"], as_of["as_of"], strict=True)]
    return pd.DataFrame(rows)


def test_no_feature_at_t_changes_when_later_events_change(sim_book: Book) -> None:
    rng = np.random.default_rng(len(sim_book.invoices))
    for i, t in enumerate(random_times(sim_book, rng)):
        assert changed_features(build_all, sim_book, t, seed=i) == set(), t


def test_online_answers_at_t_ignore_later_events_already_applied(sim_book: Book) -> None:
    rng = np.random.default_rng(7)
    t = random_times(sim_book, rng)[0]
    assert changed_features(online_build, sim_book, t, seed=3) == set(), t


def test_the_check_catches_a_leaky_late_share(sim_book: Book) -> None:
    rng = np.random.default_rng(len(sim_book.invoices))
    caught = [
        changed_features(leaky_build, sim_book, t, seed=i)
        for i, t in enumerate(random_times(sim_book, rng))
    ]
    assert all(changed == {"hist_late_share"} for changed in caught), caught
