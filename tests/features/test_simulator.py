"""The simulated book: contract, truncation at as_of, calibration of the oracle, rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.book import load_book, validate_tables, write_book
from features.schema import (
    ACTIVITY_KINDS,
    DISPUTE_REASONS,
    DISPUTE_RESOLUTIONS,
    SEGMENTS,
    TABLES_BY_NAME,
)
from features.simulator import SimulationConfig, simulate_book
from features.simulator.metrics import dispute_outcomes, headline_rates, late_outcomes

CONFIG = SimulationConfig(customers=1200, months=24, seed=11)
LATENT_NAMES = ("health", "habit", "friction", "propensity", "problem_factor")
# Attributes that may lie after as_of: contractual dates, not events.
FUTURE_ATTRIBUTES = {("invoices", "due_date"), ("activities", "promised_date")}


@pytest.fixture(scope="module")
def simulated():
    return simulate_book(CONFIG)


@pytest.fixture(scope="module")
def tables(simulated):
    return simulated.tables


def binomial_tolerance(p: np.ndarray) -> float:
    """Three binomial standard errors of the mean outcome of independent Bernoulli(p)."""
    return 3 * np.sqrt((p * (1 - p)).sum()) / len(p)


def assert_calibrated_by_decile(p: np.ndarray, observed: np.ndarray) -> None:
    decile = pd.qcut(p, 10, labels=False, duplicates="drop")
    for group in np.unique(decile):
        in_group = decile == group
        gap = abs(observed[in_group].mean() - p[in_group].mean())
        tolerance = binomial_tolerance(p[in_group])
        assert gap <= tolerance, (group, p[in_group].mean(), observed[in_group].mean())


def test_book_loads_with_zero_rejections_and_same_dtypes(simulated, tmp_path):
    write_book(simulated.tables, tmp_path, meta={"as_of": "2025-01-01"})
    book, report = load_book(tmp_path)
    assert report.total_rejected == 0
    assert report.reconciles
    assert set(book.tables) == set(TABLES_BY_NAME)
    assert book.as_of == simulated.as_of == pd.Timestamp("2025-01-01")
    for name, frame in simulated.tables.items():
        pd.testing.assert_frame_equal(book.tables[name], frame, check_exact=True)


def test_same_seed_gives_same_bytes_and_another_seed_does_not(tmp_path):
    from features.simulator.cli import write_simulated_book

    small = SimulationConfig(customers=120, months=8, seed=5)
    for fmt in ("parquet", "csv"):
        first = write_simulated_book(simulate_book(small), tmp_path / f"a-{fmt}", fmt)
        second = write_simulated_book(simulate_book(small), tmp_path / f"b-{fmt}", fmt)
        files = sorted(p.name for p in first.iterdir())
        assert files == sorted(p.name for p in second.iterdir())
        assert f"oracle.{fmt}" in files and "book.json" in files
        for name in files:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
        book, report = load_book(first)
        assert report.total_rejected == 0 and len(book.invoices) > 1000
        assert book.as_of == small.as_of
    other = SimulationConfig(customers=120, months=8, seed=6)
    third = write_simulated_book(simulate_book(other), tmp_path / "c", "parquet")
    assert (third / "invoices.parquet").read_bytes() != (
        tmp_path / "a-parquet" / "invoices.parquet"
    ).read_bytes()


def test_book_has_no_latent_state_and_oracle_has_it(simulated):
    for name, frame in simulated.tables.items():
        declared = {c.name for c in TABLES_BY_NAME[name].columns}
        assert set(frame.columns) == declared, name
        for column in frame.columns:
            assert not any(word in column for word in LATENT_NAMES), (name, column)
    oracle = simulated.oracle
    assert list(oracle.columns[:4]) == ["invoice_id", "p_late", "p_dispute", "expected_days_to_pay"]
    assert {"health_state", "habit", "friction", "dispute_propensity"} <= set(oracle.columns)
    assert oracle["invoice_id"].tolist() == simulated.tables["invoices"]["invoice_id"].tolist()
    assert oracle[["p_late", "p_dispute"]].stack().between(0, 1).all()


def test_no_event_on_or_after_as_of(simulated):
    for name, frame in simulated.tables.items():
        for column in frame.columns:
            if (name, column) in FUTURE_ATTRIBUTES:
                continue
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                assert (frame[column].dropna() < simulated.as_of).all(), (name, column)
    disputes = simulated.tables["disputes"]
    assert disputes["resolved_date"].isna().any()  # disputes still open at as_of exist
    assert (disputes["resolved_date"].isna() == disputes["resolution"].isna()).all()


def test_vocabularies_come_from_the_contract(tables):
    kinds = set(tables["activities"]["kind"])
    assert kinds == set(ACTIVITY_KINDS) - {"note"}
    assert set(tables["disputes"]["reason"]) == set(DISPUTE_REASONS)
    assert set(tables["disputes"]["resolution"].dropna()) == set(DISPUTE_RESOLUTIONS)
    assert set(tables["customers"]["segment"]) == set(SEGMENTS)
    assert tables["customers"]["payment_terms_days"].between(15, 90).all()


def test_paid_date_is_the_day_payments_and_credits_first_cover_the_amount(tables):
    invoices = tables["invoices"].set_index("invoice_id")
    payments = (
        tables["payments"]
        .groupby("invoice_id")
        .agg(paid=("amount", "sum"), last=("payment_date", "max"))
    )
    disputes = tables["disputes"].set_index("invoice_id")
    credit = pd.Series(0.0, index=disputes.index)
    full_credit = disputes["resolution"].isin(["credit_note", "reissued"])
    credit[full_credit] = disputes.loc[full_credit, "amount"]
    half = disputes["resolution"] == "partial_credit"
    credit[half] = disputes.loc[half, "amount"] - (disputes.loc[half, "amount"] / 2).round(2)
    frame = invoices.join(payments).join(credit.rename("credit"))
    frame[["paid", "credit"]] = frame[["paid", "credit"]].fillna(0.0)
    settled = frame["paid"] + frame["credit"] >= frame["amount"] - 0.005
    assert (settled == frame["paid_date"].notna()).all()
    paid = frame[frame["paid_date"].notna()]
    assert (paid["last"].isna() | (paid["last"] <= paid["paid_date"])).all()
    undisputed = paid[~paid.index.isin(disputes.index)]
    assert (undisputed["last"] == undisputed["paid_date"]).all()
    disputed = paid.join(disputes[["resolved_date"]], how="inner")
    assert (disputed["paid_date"] >= disputed["resolved_date"]).all()


def test_disputes_open_within_the_window_after_issue(tables):
    disputes = tables["disputes"].merge(tables["invoices"], on="invoice_id")
    days = (disputes["opened_date"] - disputes["issue_date"]).dt.days
    assert days.between(1, CONFIG.dispute.window_days).all()
    assert disputes["amount_x"].le(disputes["amount_y"]).all()
    assert not disputes["invoice_id"].duplicated().any()


def test_order_problems_are_recorded_before_issue_on_the_invoice_order(tables):
    activities = tables["activities"]
    problems = activities[
        activities["kind"].isin(["delivery_incomplete", "quality_issue", "pricing_discrepancy"])
    ]
    joined = problems.merge(tables["invoices"], on="invoice_id", suffixes=("", "_invoice"))
    assert len(joined) == len(problems) > 0
    assert (joined["order_id"] == joined["order_id_invoice"]).all()
    assert (joined["customer_id"] == joined["customer_id_invoice"]).all()
    assert (joined["date"] < joined["issue_date"]).all()


def test_broken_promises_follow_unkept_promises_by_one_day(tables):
    activities = tables["activities"]
    promises = activities[activities["kind"] == "promise_to_pay"].merge(
        tables["invoices"][["invoice_id", "paid_date"]], on="invoice_id"
    )
    broken = activities[activities["kind"] == "broken_promise"]
    assert promises["promised_date"].notna().all()
    expected_broken = promises[
        (promises["paid_date"].isna() | (promises["paid_date"] > promises["promised_date"]))
        & (promises["promised_date"] + pd.Timedelta(days=1) < CONFIG.as_of)
    ]
    # Collections stop at insolvency, so a few expected ones may be absent; none is invented.
    pairs = set(zip(broken["invoice_id"], broken["date"], strict=True))
    expected = set(
        zip(
            expected_broken["invoice_id"],
            expected_broken["promised_date"] + pd.Timedelta(days=1),
            strict=True,
        )
    )
    assert pairs <= expected
    assert len(pairs) >= 0.95 * len(expected) > 0


def test_customers_table_holds_the_current_revenue_owner(tables):
    changes = tables["activities"][tables["activities"]["kind"] == "owner_change"]
    last = changes.sort_values("date").groupby("customer_id")["detail"].last()
    owners = tables["customers"].set_index("customer_id")["revenue_owner_id"]
    assert len(last) > 0
    assert (owners[last.index] == last).all()


def test_insolvent_customers_stop_trading_and_leave_unpaid_invoices(tables):
    activities = tables["activities"]
    filed = activities[activities["kind"] == "insolvency"].set_index("customer_id")["date"]
    assert len(filed) > 0
    invoices = tables["invoices"][tables["invoices"]["customer_id"].isin(filed.index)]
    assert (invoices["issue_date"] < invoices["customer_id"].map(filed)).all()
    payments = tables["payments"].merge(invoices, on="invoice_id")
    assert (payments["payment_date"] < payments["customer_id"].map(filed)).all()
    assert invoices["paid_date"].isna().sum() > 0


def test_oracle_p_late_is_calibrated_by_decile_on_mature_invoices(simulated, tables):
    late = late_outcomes(tables["invoices"], simulated.as_of)
    p = simulated.oracle.loc[late.index, "p_late"].to_numpy()
    assert len(late) > 50_000
    assert_calibrated_by_decile(p, late.to_numpy())


def test_oracle_p_dispute_is_calibrated_by_decile_on_mature_invoices(simulated, tables):
    disputed = dispute_outcomes(
        tables["invoices"], tables["disputes"], simulated.as_of, CONFIG.dispute.window_days
    )
    p = simulated.oracle.loc[disputed.index, "p_dispute"].to_numpy()
    assert len(disputed) > 50_000
    assert_calibrated_by_decile(p, disputed.to_numpy())


def test_oracle_expected_days_matches_mean_days_to_settle(simulated, tables):
    invoices = tables["invoices"]
    # Invoices of solvent customers issued early enough that nearly all have settled.
    insolvent = tables["activities"].loc[
        tables["activities"]["kind"] == "insolvency", "customer_id"
    ]
    early = (invoices["issue_date"] < simulated.as_of - pd.DateOffset(months=12)) & ~invoices[
        "customer_id"
    ].isin(insolvent)
    days = (invoices.loc[early, "paid_date"] - invoices.loc[early, "issue_date"]).dt.days
    assert days.notna().mean() > 0.999
    expected = simulated.oracle.loc[early, "expected_days_to_pay"]
    tolerance = 4 * days.std() / np.sqrt(days.notna().sum())
    assert abs(days.mean() - expected.mean()) <= tolerance


def test_headline_rates_are_realistic(simulated):
    rates = headline_rates(simulated.tables, simulated.as_of, CONFIG.dispute.window_days)
    assert 0.25 <= rates["share_late"] <= 0.45
    assert 0.03 <= rates["share_disputed"] <= 0.15
    assert 35 <= rates["dso_days"] <= 65
    assert rates["p90_days_late"] > 3 * rates["median_days_late"]  # a heavy tail


def test_habitual_late_payers_pay_late_more_often(simulated, tables):
    late = late_outcomes(tables["invoices"], simulated.as_of)
    habit = simulated.oracle.loc[late.index, "habit"]
    quintile = pd.qcut(habit, 5, labels=False)
    shares = late.groupby(quintile).mean()
    assert shares.is_monotonic_increasing
    assert shares.iloc[-1] - shares.iloc[0] > 0.2


def test_validate_tables_accepts_the_tables_in_memory(tables):
    _, report = validate_tables(tables)
    assert report.total_rejected == 0
