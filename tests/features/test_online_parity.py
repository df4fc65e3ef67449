"""Parity: the online state answers exactly what the offline build computes.

At least 1,000 random (invoice, as-of) pairs per book, a third of them open invoices
re-scored after issue, on a simulated book and on a random stress book (same-day events,
partial payments, several disputes per invoice). Values agree within 1e-9; NaN equals NaN.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.book import Book
from features.offline import build_features, default_as_of, rescore_dates
from features.online import OnlineFeatures
from features.online_events import events_from_book
from features.random_book import random_book
from features.registry import feature_set
from features.simulator import SimulationConfig, simulate_book

PAIRS = 1_200
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def sim_book() -> Book:
    return simulate_book(SimulationConfig(customers=100, months=14, seed=5)).to_book()


@pytest.fixture(scope="module")
def stress_book() -> Book:
    return random_book(customers=30, invoices=2_500, span=300, seed=4)


@pytest.fixture(scope="module")
def small_book() -> Book:
    return random_book(customers=12, invoices=600, span=200, seed=6)


def random_pairs(book: Book, n: int, seed: int) -> pd.DataFrame:
    """Issue-date pairs, re-scores of open invoices, and random dates after issue."""
    rng = np.random.default_rng(seed)
    issue = default_as_of(book).sample(n // 3, random_state=seed)
    rescore = rescore_dates(book, every_days=11)
    rescore = rescore.sample(min(n // 3, len(rescore)), random_state=seed)
    invoices = book.invoices.sample(n - len(issue) - len(rescore), random_state=seed + 1)
    later = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy(),
            "as_of": invoices["issue_date"].to_numpy()
            + pd.to_timedelta(rng.integers(0, 400, len(invoices)), unit="D"),
        }
    )
    return pd.concat([issue, rescore, later], ignore_index=True)


def assert_parity(offline: np.ndarray, online: np.ndarray, names: list[str]) -> None:
    same = (np.abs(offline - online) <= TOLERANCE) | (np.isnan(offline) & np.isnan(online))
    bad = {names[j]: int((~same[:, j]).sum()) for j in range(len(names)) if not same[:, j].all()}
    assert bad == {}, f"features differing (pairs): {bad}"


def online_matrix(online: OnlineFeatures, pairs: pd.DataFrame) -> np.ndarray:
    dates = pairs["as_of"].dt.date
    return np.array([online.vector(i, d) for i, d in zip(pairs["invoice_id"], dates, strict=True)])


@pytest.mark.parametrize("book_name", ["sim_book", "stress_book"])
def test_offline_and_online_agree_on_random_pairs(book_name: str, request) -> None:  # noqa: ANN001
    book = request.getfixturevalue(book_name)
    chosen = feature_set(book)
    pairs = random_pairs(book, PAIRS, seed=1)
    rescored = (
        pairs["as_of"]
        > book.invoices.set_index("invoice_id").loc[pairs["invoice_id"], "issue_date"].to_numpy()
    )
    assert len(pairs) >= 1_000 and rescored.sum() >= 600
    offline = build_features(book, pairs, chosen)[chosen.names].to_numpy()
    online = online_matrix(OnlineFeatures(chosen).replay(book), pairs)
    assert online.shape == offline.shape == (len(pairs), len(chosen.names))
    assert_parity(offline, online, chosen.names)


def test_replay_until_t_answers_as_a_full_replay_does(sim_book: Book) -> None:
    chosen = feature_set(sim_book)
    full = OnlineFeatures(chosen).replay(sim_book)
    t = pd.Timestamp("2023-09-14")
    partial = OnlineFeatures(chosen).replay(sim_book, until=t.date())
    assert 0 < partial.applied < full.applied
    open_at_t = sim_book.invoices[sim_book.invoices["issue_date"] < t].sample(200, random_state=0)
    pairs = pd.DataFrame({"invoice_id": open_at_t["invoice_id"], "as_of": t})
    assert_parity(online_matrix(full, pairs), online_matrix(partial, pairs), chosen.names)


def test_events_given_as_dicts_build_the_same_state(small_book: Book) -> None:
    chosen = feature_set(small_book)
    typed = OnlineFeatures(chosen).replay(small_book)
    from_dicts = OnlineFeatures(chosen)
    for event in events_from_book(small_book):
        from_dicts.apply({"kind": event.kind, **dataclasses.asdict(event)})
    pairs = random_pairs(small_book, 300, seed=2)
    assert_parity(online_matrix(typed, pairs), online_matrix(from_dicts, pairs), chosen.names)


def test_events_come_in_time_order_with_payments_before_settlement(sim_book: Book) -> None:
    events = list(events_from_book(sim_book))
    dated = [e for e in events if e.kind != "customer_upsert"]
    assert [e.date for e in dated] == sorted(e.date for e in dated)
    kinds = {e.kind for e in dated}
    assert kinds == {
        "invoice_issued",
        "payment",
        "invoice_paid",
        "dispute_opened",
        "dispute_resolved",
        "activity",
    }
    counts = pd.Series([e.kind for e in events]).value_counts()
    assert counts["invoice_issued"] == len(sim_book.invoices)
    assert counts["payment"] == len(sim_book.tables["payments"])
    assert counts["customer_upsert"] == len(sim_book.tables["customers"])


def test_unknown_event_kind_is_refused_by_name() -> None:
    online = OnlineFeatures(feature_set(random_book(customers=2, invoices=5)))
    with pytest.raises(ValueError, match="unknown event kind 'refund'"):
        online.apply({"kind": "refund", "invoice_id": "I1"})


def test_answers_between_events_match_offline_as_a_service_would_ask(small_book: Book) -> None:
    """Events applied one at a time, queries in between at the date of the latest event (all
    events dated before it are in): each answer equals the offline build at that date."""
    chosen = feature_set(small_book)
    online = OnlineFeatures(chosen)
    issued: list[str] = []
    asked: list[tuple[str, object]] = []
    answers = []
    rng = np.random.default_rng(3)
    for k, event in enumerate(events_from_book(small_book)):
        online.apply(event)
        if event.kind == "invoice_issued":
            issued.append(event.invoice_id)
        if k % 4 == 0 and issued and event.date is not None:
            for invoice_id in rng.choice(issued, 2):
                asked.append((invoice_id, event.date))
                answers.append(online.vector(invoice_id, event.date))
    assert len(asked) >= 500
    pairs = pd.DataFrame(asked, columns=["invoice_id", "as_of"])
    pairs["as_of"] = pd.to_datetime(pairs["as_of"])
    offline = build_features(small_book, pairs, chosen)[chosen.names].to_numpy()
    assert_parity(offline, np.array(answers), chosen.names)


def test_cached_customer_answers_follow_every_kind_of_update(small_book: Book) -> None:
    """Queries at one later date between events: each answer (possibly from the customer
    cache) equals a recomputation, so every update kind invalidates the cache."""
    online = OnlineFeatures(feature_set(small_book))
    horizon = (small_book.as_of + pd.Timedelta(days=1)).date()
    issued: list[str] = []
    kinds_seen = set()
    checks = 0
    for k, event in enumerate(events_from_book(small_book)):
        online.apply(event)
        kinds_seen.add(event.kind)
        if event.kind == "invoice_issued":
            issued.append(event.invoice_id)
        if k % 2 == 0 and issued:
            invoice_id = issued[k % len(issued)]
            answer = online.vector(invoice_id, horizon)
            online.customers[online.invoices[invoice_id].customer_id].answer = None
            recomputed = online.vector(invoice_id, horizon)
            assert np.array_equal(answer, recomputed, equal_nan=True), (k, event)
            checks += 1
    assert checks > 500 and len(kinds_seen) == 7
